"""Oversight: statistics, accountability (倒查问责), dashboards and the department and county viewer."""
