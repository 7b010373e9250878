"""Certificates: eligibility, numbers, issue runs, verification and revocation."""
