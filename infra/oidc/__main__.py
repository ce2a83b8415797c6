import sys

from infra.oidc.provider import main

sys.exit(main())
