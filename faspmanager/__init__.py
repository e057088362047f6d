"""Drive IBM Aspera's ascp: transfer orders, sessions, management-port events."""
