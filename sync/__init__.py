"""ikdoemee-sync: UiTdatabank taalicoon events into the ikdoemee catalogue."""
