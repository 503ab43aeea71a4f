"""Official reports (XLSX, PDF, CSV) and the leader dashboard's figures and charts. No personal data."""
