"""The committed generated gRPC code is what the .proto files generate (only version banners may differ)."""

from __future__ import annotations

from pathlib import Path

from swarm_learning.proto import generate


def test_generated_code_matches_the_proto_files() -> None:
    assert generate.proto_files(), "no .proto files found"
    problems = generate.check()
    assert not problems, "\n".join(problems) + "\nRegenerate with: python -m swarm_learning.proto.generate"


def test_generated_modules_import_each_other_through_the_package() -> None:
    from swarm_learning.proto import ml_channel_pb2, ml_channel_pb2_grpc

    assert (
        "from swarm_learning.proto import ml_channel_pb2 as" in Path(ml_channel_pb2_grpc.__file__).read_text()
    )
    assert ml_channel_pb2.DESCRIPTOR.package == "swarm_learning.v1"
