"""The public verification API, kept at its old place: ``from opmodels.verify import verify, verify_mac``.
It lives in :mod:`opmodels.verification`."""
from .verification import (HDL_DIR, Dut, Result, check_vectors, generated_dut, hdl_file, mac_model, reference,
                           require_simulator, user_dut, verify, verify_catalog, verify_mac, verify_many)

__all__ = ["Dut", "HDL_DIR", "Result", "check_vectors", "generated_dut", "hdl_file", "mac_model", "reference",
           "require_simulator", "user_dut", "verify", "verify_catalog", "verify_mac", "verify_many"]
