# Makefile fragment: container images (include it from the main Makefile: `include docker/images.mk`).
#
#   make images                                   every image, tagged with the version in pyproject.toml
#   make images IMAGES=sn,sl                      a subset (the runtime image is built first when listed)
#   make images BASE_IMAGE=local/debian:bookworm  from a local Debian base (no registry)
#   make images CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt   pip inside the builds trusts this CA bundle
#
# Needs a running Docker engine (DOCKER_HOST) and Python 3.11+ on the host (to build the project wheel).
IMAGES_PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
SWARM_VERSION ?= $(shell $(IMAGES_PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
BASE_IMAGE ?= debian:bookworm-slim
IMAGE_PREFIX ?= swarm-learning
CA_BUNDLE ?=
IMAGES ?=
IMAGES_REPORT ?=
IMAGES_NICE ?= nice -n 10

.PHONY: images

images:
	$(IMAGES_NICE) $(IMAGES_PYTHON) docker/build_images.py --tag $(SWARM_VERSION) --prefix $(IMAGE_PREFIX) \
		--base-image $(BASE_IMAGE) $(if $(CA_BUNDLE),--ca-bundle $(CA_BUNDLE)) $(if $(IMAGES),--only $(IMAGES)) \
		$(if $(IMAGES_REPORT),--report $(IMAGES_REPORT))

# A Debian base built locally with debootstrap (no image registry needed), then `make images BASE_IMAGE=...`.
LOCAL_BASE_IMAGE ?= local/debian:bookworm

.PHONY: local-base
local-base:
	$(IMAGES_NICE) docker/local-base.sh $(LOCAL_BASE_IMAGE)
