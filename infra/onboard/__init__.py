"""Onboarding a county onto a running platform in one command: `python -m infra.onboard` (see county.py)."""
