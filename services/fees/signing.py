"""The fees service's SM2 keys and the province's side of a payment callback. The SM2/SM3 primitives
(Signer, Verifier, sm3_hex, key_id, generate_keypair) are written once in `shared.sm2`, re-exported here.

Two keys matter to the fees service:

- the **provincial public payment platform's** public key: its callbacks are signed with SM2 over the
  canonical form of their fields (`payments.canonical_form`); a callback whose signature does not
  verify is refused and logged, and nothing is recorded;
- the fees service's own **receipt key**: on payment it countersigns the notice and the payment
  (`payments.receipt_text`), which turns the notice into the receipt.

The DEV_* keys below are for loopback runs, tests and the provincial platform simulator only: they fill
the settings in development mode (SANJI_MODE=development), and a production process refuses to start on
them or without its own SANJI_FEES_* keys (services/fees/settings.py, shared/config.py).
"""

from __future__ import annotations

from shared.sm2 import Signer, Verifier, generate_keypair, key_id, sm3_hex  # noqa: F401 — the fees API

# Development keys (loopback runs, tests, the provincial platform simulator). Refused in production.
DEV_PROVINCE_PRIVATE_KEY = "b3a5c7bcd7634efac3cdb84d4f73474a7865b153940eedb667baad5ec25ab3d8"
DEV_PROVINCE_PUBLIC_KEY = ("2046d44b6d798bd41ed59fff40990925cc2bc7acf970c38cebfd1696ae37c6d0"
                           "283864846ca4f6ce2331f868c304b01679da6fd8d7f4f42c85da049cef4b4cd0")
DEV_RECEIPT_PRIVATE_KEY = "c4319c189ace6ebbc115f9302d862d2c753ac1931f743866d88b5ea89bf3a594"
DEV_RECEIPT_PUBLIC_KEY = ("9b9a424fed3c5a55b12d38fd136a75d5cc4a871f351b0901f4ad59680feaa965"
                          "6704616176eb04acff2be48b3ea428cd5af31375ca89b5166807964ed25ea041")


def sign_callback(fields: dict[str, str], private_key: str = DEV_PROVINCE_PRIVATE_KEY,
                  public_key: str = DEV_PROVINCE_PUBLIC_KEY) -> str:
    """What the provincial platform (or its simulator) does: sign a callback's canonical form — the one
    function (payments.canonical_form) the fees service verifies over."""
    from services.fees.payments import canonical_form

    return Signer(private_key, public_key).sign(canonical_form(fields))
