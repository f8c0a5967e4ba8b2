"""The demo through the Python package: python count_vowels.py PLUGIN [INPUT]"""
import sys

import extism

with extism.Plugin(sys.argv[1], functions=[]) as plugin:
    text = sys.argv[2] if len(sys.argv) > 2 else "Hello, World!"
    print(plugin.call("count_vowels", text).decode())
    print(f"(extism {extism.extism_version()}, Python)")
