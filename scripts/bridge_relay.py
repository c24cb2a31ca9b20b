"""Lets `sam local` containers reach the loopback moto server.

The SAM CLI leaves its containers on Docker's default bridge whatever
`--docker-network host` says (samcli/local/docker/container.py connects them
to a named network only, never sets the host network mode), so 127.0.0.1
inside a container is the container itself. This relay listens on the
bridge's gateway address, which only this machine's containers reach, and
passes each connection on to 127.0.0.1:PORT; moto itself stays on loopback.

usage: python scripts/bridge_relay.py GATEWAY_IP LISTEN_PORT TARGET_PORT
"""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(gateway, listen_port, target_port):
    async def relay(client_reader, client_writer):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))

    server = await asyncio.start_server(relay, gateway, listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
