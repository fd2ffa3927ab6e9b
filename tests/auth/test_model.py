"""walink.auth.model: fresh credentials, validation, and reprs without secrets."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.auth.strategies import full_creds, seeded_rng
from walink.auth import Creds
from walink.protocol.keys import signal_public_key, xeddsa_verify


@given(st.integers(0, 2**32))
def test_new_creds_are_what_baileys_init_auth_creds_makes(seed: int) -> None:
    creds = Creds.new(rng=seeded_rng(seed))
    assert 1 <= creds.registration_id <= 16380
    assert creds.signed_pre_key.key_id == 1
    assert xeddsa_verify(
        creds.signed_identity_key.public,
        signal_public_key(creds.signed_pre_key.key_pair.public),
        creds.signed_pre_key.signature,
    )
    assert len(creds.adv_secret_key) == 32
    assert (creds.next_pre_key_id, creds.first_unuploaded_pre_key_id) == (1, 1)
    assert (creds.account_sync_counter, creds.registered, creds.me) == (0, False, None)
    assert creds.account_settings.unarchive_chats is False


def test_new_creds_are_fresh_each_time() -> None:
    first, second = Creds.new(), Creds.new()
    assert first.noise_key != second.noise_key
    assert first.signed_identity_key != second.signed_identity_key
    assert first.adv_secret_key != second.adv_secret_key


def test_new_creds_are_reproducible_from_the_rng() -> None:
    assert Creds.new(rng=seeded_rng(7)) == Creds.new(rng=seeded_rng(7))


def test_repr_never_shows_a_secret() -> None:
    creds = full_creds()
    text = repr(creds)
    secrets = [
        creds.noise_key.private,
        creds.pairing_ephemeral_key_pair.private,
        creds.signed_identity_key.private,
        creds.signed_pre_key.key_pair.private,
        creds.adv_secret_key,
    ]
    for secret in secrets:
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert creds.pairing_code is not None and creds.pairing_code not in text
    assert "blob" not in text  # additional_data is free-form: never in the repr
    assert creds.noise_key.public.hex() in text  # public halves help debugging


@pytest.mark.parametrize("registration_id", [0, 1, 255, 16380, 16383])
def test_every_registration_id_baileys_can_produce_is_accepted(registration_id: int) -> None:
    creds = dataclasses.replace(Creds.new(), registration_id=registration_id)
    assert creds.registration_id == registration_id


@pytest.mark.parametrize(
    "changes",
    [
        {"registration_id": -1},
        {"registration_id": 16384},
        {"adv_secret_key": b"\x00" * 31},
    ],
)
def test_invalid_values_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Creds.new(), **changes)  # type: ignore[arg-type]


def test_creds_are_immutable() -> None:
    creds = Creds.new()
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.registered = True  # type: ignore[misc]


def test_new_creds_are_not_logged_out_and_the_mark_shows_in_the_repr() -> None:
    creds = Creds.new()
    assert creds.logged_out is False
    marked = dataclasses.replace(creds, logged_out=True)
    assert marked.logged_out is True and marked != creds
    # not a secret, and the first thing to see when a device refuses to connect
    assert "logged_out=True" in repr(marked)
