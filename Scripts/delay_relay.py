#!/usr/bin/env python3
"""A TCP relay that holds every chunk it reads for a fixed time before forwarding it, in both directions.

Latency of our own making for Scripts/test-multihost, where the kernel has no netem: a worker connects to the relay
and the relay to the coordinator, so every byte between them arrives DELAY later than it was sent. Order is kept and
throughput is not limited (chunks are read as they come and queued). Standard library only.

    python3 Scripts/delay_relay.py --listen 127.0.0.1:7700 --target 10.213.7.1:7700 --delay-ms 50

With --command, it runs a command instead and holds each chunk of the command's standard output for DELAY (its
standard input and error pass straight through): a slow engine process for Scripts/test-slurm, whose every answer
(ready, progress, result) comes DELAY late, on any machine.

    python3 Scripts/delay_relay.py --delay-ms 15000 --command reelfarm engine serve testcard
"""

import argparse
import asyncio
import os
import queue
import subprocess
import sys
import threading
import time


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


def run_command(argv: list[str], delay: float) -> int:
    """Runs argv with our stdin passed through and its stdout delayed chunk by chunk; returns its exit status."""
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    held: queue.Queue[tuple[float, bytes]] = queue.Queue()

    def up() -> None:
        try:
            while data := os.read(0, 65536):
                child.stdin.write(data)
        except OSError:
            pass
        finally:
            try:
                child.stdin.close()
            except OSError:
                pass

    def down() -> None:
        while True:
            data = os.read(child.stdout.fileno(), 65536)
            held.put((time.monotonic() + delay, data))
            if not data:
                return

    threading.Thread(target=up, daemon=True).start()
    threading.Thread(target=down, daemon=True).start()
    while True:
        due, data = held.get()
        time.sleep(max(0.0, due - time.monotonic()))
        if not data:
            break
        try:
            os.write(1, data)
        except OSError:
            child.kill()
            break
    return child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=host_port, help="HOST:PORT to accept connections on")
    parser.add_argument("--target", type=host_port, help="HOST:PORT to forward them to")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="how long each chunk is held (each way)")
    parser.add_argument("--command", nargs=argparse.REMAINDER, help="run this and delay its standard output instead")
    args = parser.parse_args()
    if args.command:
        sys.exit(run_command(args.command, args.delay_ms / 1000))
    if not args.listen or not args.target:
        parser.error("--listen and --target are required (or --command)")
    try:
        asyncio.run(serve(args.listen, args.target, args.delay_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
