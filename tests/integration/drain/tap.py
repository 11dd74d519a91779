"""TAP output of the drain suite: ok / not ok lines, "#" notes, cases that
fail by assertion (expect) or by crashing."""
import time
import traceback

passed = 0
failed = 0


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - drain: " + name, flush=True)
    else:
        failed += 1
        print("not ok - drain: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line, flush=True)
    return ok


def note(msg):
    print("# " + msg, flush=True)


class Fail(AssertionError):
    pass


def expect(cond, diag):
    if not cond:
        raise Fail(diag)


def case(name, fn, *a):
    t0 = time.time()
    try:
        fn(*a)
        note("(%.1fs)" % (time.time() - t0))
        report(True, name)
    except Fail as e:
        report(False, name, e)
    except Exception:  # noqa: BLE001 - a crash is a failed case
        report(False, name, traceback.format_exc())
