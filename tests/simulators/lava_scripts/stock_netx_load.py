"""Load a file with stock lava-dl ``netx.hdf5.Network`` (run in the Lava env); print one JSON line:
``{"loaded": bool, "error": "<type>: <message>", "blocks": n}``."""
import json
import sys

try:
    from lava.lib.dl import netx

    net = netx.hdf5.Network(net_config=sys.argv[1])
    print(json.dumps({"loaded": True, "blocks": len(net.layers)}))
except Exception as exc:  # noqa: BLE001 - the test wants to see what netx says
    print(json.dumps({"loaded": False, "error": f"{type(exc).__name__}: {exc}"}))
