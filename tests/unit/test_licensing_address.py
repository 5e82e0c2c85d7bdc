"""The product's APLS options and environment variables name the license server; none configured means none used."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from licensing.address import AplsAddress, apls_options
from licensing.errors import LicenseServerUnreachable
from swarm_learning.errors import ConfigurationError, NetworkError


def test_no_license_server_configured_means_components_run_without_one() -> None:
    assert AplsAddress.from_options(environ={}) is None


def test_the_primary_address_comes_from_either_synonym_and_the_port_defaults_to_5814() -> None:
    by_short = AplsAddress.from_options(apls_ip="10.0.0.5", environ={})
    by_long = AplsAddress.from_options(primary_apls_ip="10.0.0.5", environ={})

    assert by_short == by_long == AplsAddress(primary_ip="10.0.0.5")
    assert by_short is not None and by_short.urls == ["https://10.0.0.5:5814"]


def test_the_environment_of_the_product_is_honoured_and_options_win_over_it() -> None:
    env = {
        "SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP": "apls.example",
        "SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT": "6000",
        "SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_IP": "apls2.example",
    }

    from_env = AplsAddress.from_options(environ=env)
    overridden = AplsAddress.from_options(apls_ip="10.1.1.1", apls_port=7000, environ=env)

    assert from_env is not None and from_env.urls == ["https://apls.example:6000", "https://apls2.example:6000"]
    assert overridden is not None and overridden.urls[0] == "https://10.1.1.1:7000"


def test_a_secondary_server_has_its_own_port_or_the_primarys() -> None:
    address = AplsAddress.from_options(
        apls_ip="a", apls_port=5900, secondary_apls_ip="b", secondary_apls_port=5901, environ={}
    )
    assert address is not None and address.urls == ["https://a:5900", "https://b:5901"]
    v6 = AplsAddress(primary_ip="::1")
    assert v6.urls == ["https://[::1]:5814"]


@pytest.mark.parametrize(
    "options, complaint",
    [
        ({"apls_ip": "a", "primary_apls_ip": "b"}, "disagree"),
        ({"apls_ip": "a", "apls_port": "http"}, "not a port number"),
        ({"apls_ip": "a", "apls_port": 70000}, "not a port number"),
        ({"secondary_apls_ip": "b"}, "no primary"),
    ],
)
def test_contradictory_or_broken_options_are_refused(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        AplsAddress.from_options(environ={}, **options)


def test_the_click_options_feed_from_options_with_a_whole_option_dict() -> None:
    seen: list[AplsAddress | None] = []

    @click.command()
    @click.option("--other", default="x")
    @apls_options
    def component(**options: Any) -> None:
        seen.append(AplsAddress.from_options(**options, environ={}))

    runner = CliRunner()
    assert runner.invoke(component, ["--apls-ip", "h", "--secondary-apls-ip", "s"]).exit_code == 0
    assert runner.invoke(component, []).exit_code == 0
    assert seen == [AplsAddress(primary_ip="h", secondary_ip="s"), None]
    assert "--primary-apls-port" in runner.invoke(component, ["--help"]).output


@pytest.mark.acceptance_licensing
def test_the_unreachable_error_is_6002_and_says_where_it_tried_and_what_to_check() -> None:
    error = LicenseServerUnreachable([("https://10.9.9.9:5814", "cannot connect: refused")])

    assert error.code == "6002"
    assert isinstance(error, NetworkError)
    text = str(error)
    assert "Unable to connect to server. Server might be wrongly configured or down." in text
    assert "Error in communicating with server https://10.9.9.9:5814" in text
    assert "--apls-ip" in text and "firewall" in text
