"""Microsoft Graph bookkeeping: which Teams meeting belongs to which booking or panel session."""
