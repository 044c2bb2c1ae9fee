"""Bad CSV input: a located reason per row or for the file, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from crmflow.core.domain.imports import import_csv
from crmflow.errors import InputError
from tests.domain.conftest import d

HEAD = "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"


def _orders(eng) -> list[str]:
    with eng.db.connect() as conn:
        return sorted(conn.execute(sa.text("select order_id from orders")).scalars())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_gbk_export_needs_its_encoding_and_then_loads(factory_data, tmp_path: Path) -> None:
    text = "customer_id,name,industry,size,region\nC7,杭州齿轮厂,机械,large,CN\n"
    path = _write(tmp_path / "c.csv", text.encode("gbk"))
    with pytest.raises(InputError, match=r"not UTF-8 text .*--encoding gb18030") as err:
        import_csv(factory_data, "customers", path, actor="erp")
    assert err.value.line == 2
    report = import_csv(factory_data, "customers", path, actor="erp", encoding="gb18030")
    assert report.added == 1
    with factory_data.db.connect() as conn:
        name = conn.execute(sa.text("select name from customers where customer_id='C7'"))
        assert name.scalar() == "杭州齿轮厂"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
        (bytes(range(128, 256)) * 4, "not UTF-8 text"),
        ("order_id\n".encode("utf-16-le"), "NUL bytes"),
    ],
)
def test_files_that_are_not_csv_text_are_refused(factory_data, tmp_path, data, message) -> None:
    with pytest.raises(InputError, match=message):
        import_csv(factory_data, "orders", _write(tmp_path / "o.csv", data), actor="erp")
    assert _orders(factory_data) == []


def test_utf8_bom_and_utf16_with_bom_are_read(factory_data, tmp_path: Path) -> None:
    text = HEAD + f"O1,C1,{d(-5)},M1,5,20,{d(10)}\n"
    import_csv(factory_data, "orders", _write(tmp_path / "a.csv", text.encode("utf-8-sig")),
               actor="erp")  # fmt: skip
    text2 = HEAD + f"O2,C1,{d(-5)},M1,5,20,{d(10)}\n"
    import_csv(factory_data, "orders", _write(tmp_path / "b.csv", text2.encode("utf-16")),
               actor="erp")  # fmt: skip
    assert _orders(factory_data) == ["O1", "O2"]


def test_bad_rows_are_rejected_each_with_its_reason(factory_data, tmp_path: Path) -> None:
    long_id = "X" * 201
    rows = [
        f"O1,C1,{d(-5)},M1,5,20,{d(10)}",  # good
        f"{long_id},C1,{d(-5)},M1,5,20,{d(10)}",  # too long for the column
        f"O3,C1,{d(-5)},M1,1_000,20,{d(10)}",  # not a plain number
        f"O4,C1,{d(-5)},M1,١٢,20,{d(10)}",  # Arabic-Indic digits
        f"O5,C1,0001-01-01,M1,5,20,{d(10)}",  # placeholder year
        f"O6,C1,{d(-5)},M1,5,20,{d(-9)}",  # requested before ordered
        f"O7,C1,{d(-5)},M1,5,20,{d(10)},surprise",  # an extra cell
        f"O8,C\x001,{d(-5)},M1,5,20,{d(10)}",  # NUL
        "O11,C1," + "x" * 200_000 + f",M1,5,20,{d(10)}",  # a runaway cell
        f"O12,C1,{d(-5)},M1,5,20,{d(10)}",  # good
        # an open quote swallows what follows, up to the next quote or the end
        f'O9,"C1,{d(-5)},M1,5,20,{d(10)}\nO10,C1,{d(-5)},M1,5,20,{d(10)}',
    ]
    path = _write(tmp_path / "o.csv", (HEAD + "\n".join(rows) + "\n").encode())
    report = import_csv(factory_data, "orders", path, actor="erp")
    reasons = dict(report.rejected)
    assert report.added == 2 and _orders(factory_data) == ["O1", "O12"]
    assert reasons[3] == "order_id: is 201 characters long; at most 100"
    assert "quantity: must be a number" in reasons[4]
    assert "quantity: must be a number" in reasons[5]
    assert "year 1 is out of range" in reasons[6]
    assert "before the order date" in reasons[7]
    assert "extra" in reasons[8]
    assert "NUL" in reasons[9]
    assert "characters long" in reasons[10]
    assert "unterminated quote" in reasons[12]


def test_duplicate_header_columns_refuse_the_file(factory_data, tmp_path: Path) -> None:
    path = _write(tmp_path / "o.csv", (HEAD.strip() + ",quantity\n").encode())
    with pytest.raises(InputError, match="quantity appear twice"):
        import_csv(factory_data, "orders", path, actor="erp")


def test_gross_over_delivery_and_early_delivery_are_rejected(factory_data, tmp_path: Path) -> None:
    path = _write(tmp_path / "o.csv", (HEAD + f"O1,C1,{d(-5)},M1,5,20,{d(10)}\n").encode())
    import_csv(factory_data, "orders", path, actor="erp")
    deliveries = (
        "delivery_id,order_id,sku,delivered_date,quantity\n"
        f"D1,O1,M1,{d(1)},5000\nD2,O1,M1,{d(-9)},1\nD3,O1,M1,{d(1)},5\nD4,O1,M1,{d(2)},2\n"
    )
    report = import_csv(factory_data, "deliveries",
                        _write(tmp_path / "d.csv", deliveries.encode()), actor="erp")  # fmt: skip
    reasons = dict(report.rejected)
    assert "5000 delivered in all against 5 ordered" in reasons[2]
    assert "before the order date" in reasons[3]
    assert report.added == 2  # a lot overrun (7 against 5) loads, with a warning
    assert dict(report.warnings)[5] == (
        "quantity: 7 delivered in all against 5 ordered for O1/M1 (over-delivery)"
    )


def test_plans_for_bought_parts_are_rejected(factory_data, tmp_path: Path) -> None:
    plans = (
        "plan_id,sku,line,start_date,due_date,quantity\n"
        f"P1,B1,L1,{d(1)},{d(3)},10\nP2,M1,L1,{d(1)},{d(3)},10\n"
    )
    report = import_csv(factory_data, "production", _write(tmp_path / "p.csv", plans.encode()),
                        actor="erp")  # fmt: skip
    assert report.added == 1
    assert "B1 is a bought part" in dict(report.rejected)[2]


def test_blank_optional_cells_on_some_rows_load(factory_data, tmp_path: Path) -> None:
    text = (
        "date,line,planned_hours,worker_hours,efficiency,output\n"
        f"{d(70)},L1,8,16,0.9,100\n{d(71)},L1,8,,,\n{d(72)},L1,8,12,,\n"
    )
    report = import_csv(factory_data, "capacity", _write(tmp_path / "c.csv", text.encode()),
                        actor="erp")  # fmt: skip
    assert (report.added, report.rejected) == (3, [])
