#!/usr/bin/env python3
"""A TCP relay that holds every chunk it reads for a fixed time before forwarding it, in both directions.

Latency of our own making for Scripts/test-multihost, where the kernel has no netem: a worker connects to the relay
and the relay to the coordinator, so every byte between them arrives DELAY later than it was sent. Order is kept and
throughput is not limited (chunks are read as they come and queued). Standard library only.

    python3 Scripts/delay_relay.py --listen 127.0.0.1:7700 --target 10.213.7.1:7700 --delay-ms 50
"""

import argparse
import asyncio
import sys


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copies reader to writer, each chunk released `delay` seconds after it was read; EOF is delayed likewise."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((loop.time() + delay, b""))

    async def write() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    reading = asyncio.create_task(read())
    try:
        await write()
    finally:
        reading.cancel()


async def serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.wait_for(asyncio.open_connection(*target), 10)
        except (OSError, asyncio.TimeoutError) as error:
            print(f"delay_relay: cannot reach {target[0]}:{target[1]}: {error}", file=sys.stderr, flush=True)
            client_writer.close()
            return
        try:
            await asyncio.gather(pump(client_reader, server_writer, delay), pump(server_reader, client_writer, delay))
        except (ConnectionError, OSError):
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    server = await asyncio.start_server(connection, *listen)
    print(f"delay_relay: {listen[0]}:{listen[1]} -> {target[0]}:{target[1]}, {delay * 1000:.0f} ms each way",
          file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=host_port, required=True, help="HOST:PORT to accept connections on")
    parser.add_argument("--target", type=host_port, required=True, help="HOST:PORT to forward them to")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="how long each chunk is held (each way)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.listen, args.target, args.delay_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
