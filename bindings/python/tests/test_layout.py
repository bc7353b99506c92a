"""The ctypes structs agree with the C header: size and offset of every
field, and the bytes of BT_DB_OPTIONS_INIT, measured by a C program built
against the same header (skipped without a C compiler)."""
import ctypes
import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import bt

_lib = bt._lib


def include_dir():
    if os.environ.get("BASISTREES_INCLUDE_DIR"):
        return os.environ["BASISTREES_INCLUDE_DIR"]
    if shutil.which("pkg-config"):
        r = subprocess.run(["pkg-config", "--variable=includedir", "basistrees"],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() and os.environ.get("BASISTREES_BUILD_DIR") is None:
            return r.stdout.strip()
    return os.path.join(os.path.dirname(__file__), "..", "..", "..", "include")


@unittest.skipUnless(shutil.which(os.environ.get("CC", "cc")), "no C compiler")
class Layout(unittest.TestCase):
    def test_structs_match_header(self):
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <basistrees.h>",
                 "int main(void) {"]
        for name, cls in _lib.STRUCTS.items():
            lines.append('printf("%s size %%zu\\n", sizeof(%s));' % (name, name))
            for field, _ in cls._fields_:
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));'
                             % (name, field, name, field))
        lines.append("{ bt_db_options o = BT_DB_OPTIONS_INIT; const unsigned char *b = "
                     "(const unsigned char *)&o; printf(\"init \");"
                     " for (size_t i = 0; i < sizeof o; i++) printf(\"%02x\", b[i]);"
                     " printf(\"\\n\"); }")
        lines.append("return 0; }")
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "probe.c"), os.path.join(d, "probe")
            with open(src, "w") as f:
                f.write("\n".join(lines) + "\n")
            subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-I" + include_dir(),
                            "-o", exe, src], check=True)
            out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
        measured = {}
        for line in out.splitlines():
            parts = line.split()
            if parts[0] == "init":
                init_hex = parts[1]
            else:
                measured[(parts[0], parts[1])] = int(parts[2])
        for name, cls in _lib.STRUCTS.items():
            self.assertEqual(ctypes.sizeof(cls), measured[(name, "size")], name)
            for field, _ in cls._fields_:
                self.assertEqual(getattr(cls, field).offset, measured[(name, field)],
                                 "%s.%s" % (name, field))
        opts = bt.DbOptions()._c()
        self.assertEqual(ctypes.string_at(ctypes.addressof(opts), ctypes.sizeof(opts)).hex(),
                         init_hex, "DB_OPTIONS_INIT differs from BT_DB_OPTIONS_INIT")


if __name__ == "__main__":
    unittest.main()
