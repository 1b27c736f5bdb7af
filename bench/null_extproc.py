"""An ext_proc service that routes nothing: the floor of the Envoy ext_proc path on this host.

It runs on semrouter's own HTTP/2 gRPC server and answers exactly as semrouter does for a passthrough
request (the request headers held with the same mode override, the body's answer with the routing header,
``clear_route_cache`` and the ``x-vsr-*`` metadata, the stream then ended), but builds no request
context and runs no pipeline, metrics or decision log. ``bench/extproc.py`` puts it behind its own Envoy:
the gap between that row and Envoy alone is what Envoy's ext_proc client and two gRPC round trips cost
before semrouter does any work.

    python bench/null_extproc.py --port 50061
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from grpc_health.v1 import health_pb2

from semrouter.adapters import extproc
from semrouter.adapters import extproc_h2 as h2

SHOWN = {
    "x-vsr-selected-model": "qwen3-8b",
    "x-vsr-selected-decision": "default",
    "x-vsr-selected-category": "none",
    "x-vsr-selected-reasoning": "off",
    "x-vsr-injected-system-prompt": "false",
}


async def process(stream: h2.Stream) -> None:
    while (data := await stream.next()) is not None:
        if extproc.parse_request_headers(data, "x-request-id") is not None:
            await stream.conn.send(stream, extproc._api_answer("none", False))
            continue
        pb.ProcessingRequest.FromString(data)  # read like semrouter does
        common = extproc._field(2, extproc._mutation_bytes({"x-selected-model": "qwen3-8b"})) + b"\x28\x01"
        answer = extproc._field(3, extproc._field(1, common)) + extproc._metadata(SHOWN)
        await stream.conn.send(stream, answer)
        return


async def main(port: int) -> None:
    status = extproc.Health()
    server = h2.GrpcServer(
        {
            f"/{extproc.SERVICE_NAME}/Process": process,
            "/grpc.health.v1.Health/Check": status.check,
            "/grpc.health.v1.Health/Watch": status.watch,
        }
    )
    await server.start(h2.listen("127.0.0.1", port))
    status.set(health_pb2.HealthCheckResponse.SERVING)
    await asyncio.Event().wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    import uvloop

    uvloop.run(main(ap.parse_args().port))
