"""walink.auth.devices: many devices in SQLite and PostgreSQL, leases, fencing, schema versions."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.auth.strategies import every_key_type, full_creds
from walink.auth import Contact, Creds, KeyPair
from walink.auth.device_sql import DEVICES_APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Tx
from walink.auth.devices import DeviceHandle, DeviceStore, open_device_store, open_single_device
from walink.auth.errors import (
    DeviceLeasedError,
    LeaseLostError,
    StoreClosedError,
    UnknownDeviceError,
    UnknownSchemaError,
)
from walink.auth.sqlite_store import SQLiteStore


def _linked(number: int) -> Creds:
    creds = full_creds(number)
    return dataclasses.replace(creds, me=Contact(id=f"1555000000{number}:1@s.whatsapp.net"))


def test_devices_are_added_listed_found_and_removed(store_url: str) -> None:
    with open_device_store(store_url) as store:
        assert store.devices() == []
        fresh = store.add()
        linked = store.add(_linked(1))
        listed = store.devices()
        assert [d.id for d in listed] == [fresh, linked]
        assert listed[0].jid is None and listed[0].name == f"new:{fresh}"
        assert listed[1].jid == "15550000001:1@s.whatsapp.net"
        assert all(d.holder is None and d.epoch == 0 for d in listed)
        assert store.find("15550000001:1@s.whatsapp.net").id == linked
        assert store.device(fresh).load() is None
        assert store.device(linked).load() == _linked(1)
        store.remove(linked)
        assert [d.id for d in store.devices()] == [fresh]
        with pytest.raises(UnknownDeviceError):
            store.device(linked)


def test_creds_and_keys_round_trip_per_device(store_url: str) -> None:
    with open_device_store(store_url) as store:
        one, two = store.device(store.add()), store.device(store.add())
        creds = full_creds(3)
        one.save(creds)
        one.set_keys(every_key_type())
        assert one.load() == creds and two.load() is None
        for key_type, values in every_key_type().items():
            assert one.get_keys(key_type, values) == values
            assert two.get_keys(key_type, values) == dict.fromkeys(values)
        one.set_keys({"pre-key": {"1": None}})
        assert one.get_keys("pre-key", ["1"]) == {"1": None}
        # saving a linked device's creds records its JID for listings
        one.save(_linked(4))
        assert store.find("15550000004:1@s.whatsapp.net").id == one.id
        one.close()
        two.close()
        with pytest.raises(StoreClosedError):
            one.save(creds)


def test_one_holder_at_a_time_and_the_refusal_names_it(store_url: str) -> None:
    with (
        open_device_store(store_url, owner="host-a:1:aa") as a,
        open_device_store(store_url, owner="host-b:2:bb") as b,
    ):
        device = a.add()
        first = a.device(device)
        assert first.acquire() == 1
        assert first.acquire() == 1  # idempotent while held
        with pytest.raises(DeviceLeasedError) as refused:
            b.device(device).acquire()
        assert refused.value.holder == "host-a:1:aa" and refused.value.epoch == 1
        assert "host-a:1:aa" in str(refused.value)
        assert 0 < refused.value.expires_in <= a.lease_ttl
        # nor can the other one write without the lease
        with pytest.raises(DeviceLeasedError):
            b.device(device).save(Creds.new())
        (info,) = a.devices()
        assert info.holder == "host-a:1:aa" and info.epoch == 1
        # a clean release hands it over at once, with a new epoch
        first.close()
        assert a.devices()[0].holder is None
        second = b.device(device)
        assert second.acquire() == 2
        second.close()


def test_a_lapsed_lease_fences_the_old_holder(store_url: str) -> None:
    with (
        open_device_store(store_url, lease_ttl=0.5) as a,
        open_device_store(store_url, lease_ttl=5.0) as b,
    ):
        device = a.add()
        old = a.device(device)
        old.save(Creds.new())  # a write takes the lease itself
        assert old.epoch == 1
        time.sleep(0.7)
        # paused past its TTL: refused even though nobody took over yet
        with pytest.raises(LeaseLostError):
            old.set_keys({"pre-key": {"1": KeyPair.generate()}})
        assert old.get_keys("pre-key", ["1"]) == {"1": None}
        # and it never takes the lease back by itself
        with pytest.raises(LeaseLostError):
            old.acquire()
        with pytest.raises(LeaseLostError):
            old.renew()
        new = b.device(device)
        assert new.acquire() == 2
        creds = Creds.new()
        new.save(creds)
        new.renew()
        assert a.device(device).load() == creds


def test_renewal_keeps_the_lease_past_its_ttl(store_url: str) -> None:
    with open_device_store(store_url, lease_ttl=0.6) as a, open_device_store(store_url) as b:
        device = a.device(a.add())
        device.acquire()
        for _ in range(4):
            time.sleep(0.25)
            device.renew()
        with pytest.raises(DeviceLeasedError):
            b.device(device.id).acquire()
        device.save(Creds.new())
        device.close()


def test_many_leases_renew_in_one_statement_and_report_exactly_the_lost(store_url: str) -> None:
    with (
        open_device_store(store_url, owner="host-a:1:aa") as a,
        open_device_store(store_url, owner="host-b:2:bb") as b,
    ):
        ids = [a.add() for _ in range(6)]
        handles = [DeviceHandle(a, device) for device in ids]
        for handle in handles[:5]:
            handle.acquire()
        kept, lapsed, stolen, released, closed, never = handles

        def expire(tx: Tx) -> None:
            tx.update(
                "UPDATE walink_leases SET expires = 0 WHERE device IN (?, ?)",
                (lapsed.id, stolen.id),
            )

        a.run(expire, write=True)
        thief = b.device(stolen.id)
        assert thief.acquire() == 2
        released.release()
        closed.close()
        lost = a.renew_leases(handles)
        assert set(lost) == {lapsed, stolen, released, closed, never}
        assert all(isinstance(error, LeaseLostError) for error in lost.values())
        infos = {info.id: info for info in a.devices()}
        assert infos[kept.id].holder == "host-a:1:aa" and infos[kept.id].epoch == 1
        left = infos[kept.id].expires_in
        assert left is not None and left > 25
        # the thief's lease is untouched, the lapsed one stays lapsed
        assert infos[stolen.id].holder == "host-b:2:bb" and infos[stolen.id].epoch == 2
        assert infos[lapsed.id].holder is None
        # a lost handle is lost for good; the kept one still writes
        with pytest.raises(LeaseLostError):
            lapsed.save(Creds.new())
        with pytest.raises(LeaseLostError):
            lapsed.acquire()
        kept.save(Creds.new())
        assert a.renew_leases([]) == {}
        a.release_leases([kept, lapsed, stolen])  # only what is held is given back
        assert {info.id: info.holder for info in a.devices()}[kept.id] is None
        assert {info.id: info.holder for info in a.devices()}[stolen.id] == "host-b:2:bb"
        assert kept.epoch is None
        thief.close()


def test_racing_processes_elect_exactly_one_holder(store_url: str) -> None:
    stores = [open_device_store(store_url, owner=f"racer-{n}") for n in range(6)]
    device = stores[0].add()
    results: list[object] = []
    start = threading.Barrier(len(stores))

    def race(store: DeviceStore) -> None:
        start.wait()
        try:
            results.append(store.device(device).acquire())
        except DeviceLeasedError as error:
            results.append(error)

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(1) == 1
    assert sum(isinstance(r, DeviceLeasedError) for r in results) == len(stores) - 1
    for store in stores:
        store.close()


def test_the_schema_is_versioned_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {DEVICES_APPLICATION_ID}")
    conn.execute("CREATE TABLE walink_schema (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO walink_schema VALUES (1)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO walink_devices (id, created) VALUES ('d1', 0)")
    conn.commit()
    conn.close()
    with open_device_store(path) as store:
        assert [d.id for d in store.devices()] == ["d1"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM walink_schema").fetchall() == [(SCHEMA_VERSION,)]
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "walink_leases_expires" in indexes
        conn.execute("UPDATE walink_schema SET version = ?", (SCHEMA_VERSION + 1,))
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(UnknownSchemaError, match="newer"):
        open_device_store(path)


def test_postgres_schema_is_versioned_and_a_newer_one_refused(postgres_url: str) -> None:
    import psycopg

    open_device_store(postgres_url).close()
    open_device_store(postgres_url).close()  # a second open finds it current
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM walink_schema").fetchall() == [(SCHEMA_VERSION,)]
        conn.execute("UPDATE walink_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(UnknownSchemaError):
        open_device_store(postgres_url)


def test_a_one_device_file_is_not_taken_for_a_device_store(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    with SQLiteStore(path) as single:
        single.save(Creds.new())
    with pytest.raises(UnknownSchemaError, match="one-device"):
        open_device_store(path)


def test_open_single_device_picks_the_only_one_or_refuses(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'd.db'}"
    handle = open_single_device(url)  # empty: a new device
    handle.save(_linked(1))
    handle.close()
    again = open_single_device(url)
    assert again.load() == _linked(1)
    again.close()
    with open_device_store(url) as store:
        store.add()
    with pytest.raises(UnknownDeviceError, match="several devices"):
        open_single_device(url)


def test_postgres_without_the_driver_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from walink.auth.errors import StoreReadError

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreReadError, match=r"pip install 'walink\[postgres\]'") as error:
        open_device_store("postgresql://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(error.value)


@settings(max_examples=25)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True),
    drop=st.data(),
)
def test_key_writes_and_deletes_match_a_dict(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], drop: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("keys") / "d.db"
    with open_device_store(path) as store:
        handle = store.device(store.add())
        values = {key_id: KeyPair.generate() for key_id in ids}
        handle.set_keys({"pre-key": dict(values)})
        gone = drop.draw(st.lists(st.sampled_from(ids), unique=True))
        handle.set_keys({"pre-key": dict.fromkeys(gone)})
        expected = {key_id: (None if key_id in gone else values[key_id]) for key_id in ids}
        assert handle.get_keys("pre-key", ids) == expected
        handle.close()
