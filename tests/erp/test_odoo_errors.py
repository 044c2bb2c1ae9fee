"""Error paths: credentials refused once, 429/5xx retried with backoff, vendor messages shown."""

from __future__ import annotations

import pytest

from crmflow.errors import ConnectorError
from crmflow.plugins.connectors.status import connectors_status
from crmflow.plugins.erp.sync import sync_erp

from .conftest import seed


def test_429_with_retry_after_is_honoured_then_the_sync_goes_on(odoo, erp_engine):
    seed(odoo, orders=1, lines=1)
    engine = erp_engine()
    waited: list[float] = []
    odoo.fail("429", method="sale.order.search_read", retry_after=7)
    odoo.fail("500", method="res.partner.search_read", times=2)
    report = sync_erp(engine, sleep=waited.append)
    assert report.counts["orders"]["added"] == 1
    assert 7.0 in waited
    backoff = [w for w in waited if w != 7.0]
    assert len(backoff) == 2 and 0.5 <= backoff[0] <= 1.0 and 1.0 <= backoff[1] <= 2.0


def test_5xx_after_five_retries_exits_with_the_reason_and_resumes_from_the_cursor(
    odoo, erp_engine
):
    seed(odoo, orders=2, lines=1)
    engine = erp_engine()
    waited: list[float] = []
    odoo.fail("500", method="sale.order.search_read", times=6)
    with pytest.raises(ConnectorError) as err:
        sync_erp(engine, sleep=waited.append)
    assert err.value.reason == "unavailable" and "server exploded" in str(err.value)
    assert len(waited) == 5 and sum(waited) < 60
    status = {s["name"]: s for s in connectors_status(engine)}["erp"]
    assert status["state"] == "error" and "server exploded" in status["last_error"]
    report = sync_erp(engine, sleep=waited.append)
    assert report.counts["orders"]["added"] == 2
    assert report.counts["customers"]["read"] == 0  # its cursor had advanced already


def test_401_is_a_configuration_error_without_retries(odoo, erp_engine, monkeypatch):
    engine = erp_engine(protocol="json2")
    monkeypatch.setenv("ODOO_API_KEY", "wrong")
    waited: list[float] = []
    with pytest.raises(ConnectorError) as err:
        sync_erp(engine, sleep=waited.append)
    assert err.value.reason == "credentials" and "Invalid apikey" in str(err.value)
    assert waited == [] and len(odoo.calls) == 0
    status = {s["name"]: s for s in connectors_status(engine)}["erp"]
    assert status["state"] == "config" and status["errors"] == 1


def test_jsonrpc_access_denied_and_false_authenticate_are_credential_errors(odoo, erp_engine,
                                                                           monkeypatch):
    odoo.version = (16, 0)
    engine = erp_engine()
    monkeypatch.setenv("ODOO_API_KEY", "wrong")
    with pytest.raises(ConnectorError) as err:
        sync_erp(engine, sleep=lambda s: None)
    assert err.value.reason == "credentials" and "authenticate answered false" in str(err.value)


def test_odoo_16_is_read_over_jsonrpc_found_by_auto(odoo, erp_engine):
    odoo.version = (16, 0)
    seed(odoo, orders=2, lines=2)
    engine = erp_engine(protocol="auto")
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.counts["orders"]["added"] == 4
    assert set(odoo.protocols) == {"jsonrpc"}


def test_missing_environment_variable_names_it(odoo, erp_engine, monkeypatch):
    engine = erp_engine()
    monkeypatch.delenv("ODOO_API_KEY")
    with pytest.raises(ConnectorError, match="ODOO_API_KEY"):
        sync_erp(engine, sleep=lambda s: None)


def test_a_database_without_manufacturing_is_read_without_it(odoo, erp_engine, tmp_path):
    seed(odoo, orders=2, lines=1)
    odoo.absent = {"mrp.production": {"*"}, "product.product": {"bom_count"}}
    engine = erp_engine()
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.counts["orders"]["added"] == 2 and report.counts["products"]["added"] == 5
    assert [s.split(":")[0] for s in report.skipped] == ["mrp.production"]
    assert "Object mrp.production doesn't exist" in report.skipped[0]
    status = {s["name"]: s for s in connectors_status(engine)}["erp"]
    assert status["state"] == "partial" and status["last_success"] is not None


@pytest.mark.parametrize("version", [(14, 0), (17, 0), (18, 0)])
def test_auto_chooses_jsonrpc_for_odoo_14_to_18(odoo, erp_engine, version):
    odoo.version = version
    seed(odoo, orders=1, lines=1)
    report = sync_erp(erp_engine(), sleep=lambda s: None)
    assert report.counts["orders"]["added"] == 1
    assert set(odoo.protocols) == {"jsonrpc"}
