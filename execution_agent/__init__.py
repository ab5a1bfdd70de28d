"""Warren's root execution agent: sandboxed spawn, fd passing, cgroups, file ops as the user.

Pure standard library (ctypes allowed). Never imports Django and never reads Warren's database.
"""
