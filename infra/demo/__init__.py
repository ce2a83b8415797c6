"""Demo data of the platform: the tenant tree of 凉州区, a realistic item catalogue and demo users."""
