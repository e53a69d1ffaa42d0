"""Reads callgrind's files of one run with `--separate-threads=yes` (format: valgrind's
callgrind/docs/cl-format), for the Kafka consume counts (kafka_instructions.sh,
kafka_footprint.sh), which import it."""
import glob
import re

WORKER = "tokio::runtime::scheduler::multi_thread::worker::run"


def worker_costs(prefix):
    """The cost lines of the tokio worker threads' files `prefix-*`, as (function, position,
    events): the instructions each function ran itself, the costs of its calls left out (a
    callee's are counted at the callee). A position is absolute: an address under
    `--dump-instr=yes` (where absolute positions are hex, relative ones decimal, and `*`
    repeats the last); without it, meaningless."""
    for path in sorted(glob.glob(prefix + "-*")):
        text = open(path, errors="replace").read()
        if WORKER not in text:
            continue
        names, function, last, call_cost_next = {}, None, 0, False
        for line in text.splitlines():
            named = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
            if named:
                kind, number, name = named.groups()
                if name:
                    names[number] = name
                if kind == "fn":
                    function = names.get(number, number)
                continue
            if line.startswith("calls="):
                call_cost_next = True
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            position, *events = line.split()
            if call_cost_next:
                # A call's inclusive cost: it neither moves the position nor is run here.
                call_cost_next = False
                continue
            if position.startswith("0x"):
                last = int(position, 16)
            elif position != "*":
                last += int(position)
            yield function, last, [int(e) for e in events]
