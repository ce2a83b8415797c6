"""The provincial integrated platform simulator (省一体化政务服务平台, loopback): infra/province/simulator.py."""
