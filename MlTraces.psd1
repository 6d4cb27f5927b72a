@{
    RootModule           = 'MlTraces.dll'
    # Imported before the root module: it decides where MlTraces.Core and its dependencies load (Dependencies/).
    NestedModules        = @('MlTraces.Loader.dll')
    ModuleVersion        = '{{ModuleVersion}}'
    GUID                 = '6f1b7c1e-3d8a-4f5e-9b2a-8d4c2e7a9f10'
    Author               = 'MlTraces contributors'
    CompanyName          = 'MlTraces'
    Copyright            = '(c) MlTraces contributors. MIT licence.'
    Description          = 'Find, read, delete, retain and archive the GenAI traces in an MLflow tracking store, from PowerShell.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('MlTraces.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-Trace'
        'Search-Trace'
        'New-TraceStore'
        'Export-Trace'
        'Import-Trace'
        'Get-ExperimentRetention'
        'Set-ExperimentRetention'
        'Invoke-TraceArchive'
        'Remove-Trace'
        'Restore-Trace'
        'Set-TraceLegalHold'
        'Clear-TraceLegalHold'
        'Measure-TraceStore'
        'Optimize-TraceStore'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('MLflow', 'Tracing', 'GenAI', 'LLM', 'Observability', 'SQLite', 'Windows', 'Linux', 'MacOS')
            ProjectUri   = 'https://github.com/mltraces/MlTraces'
            LicenseUri   = 'https://github.com/mltraces/MlTraces/blob/main/LICENSE'
            # One line per exported command (a test checks that none is missing).
            ReleaseNotes = @'
Commands:
- Search-Trace: find traces with MLflow's filter language, order and paging.
- Get-Trace: read traces by id, with tags, metadata, assessments and spans.
- Export-Trace: write traces to MLflow trace JSON, one trace a line.
- Import-Trace: write such files, or traces from another store, into a store.
- New-TraceStore: create an empty store with MLflow's current schema.
- Remove-Trace: delete traces by id, age or filter, with everything on them; -WhatIf lists each.
- Get-ExperimentRetention: each experiment's effective archival retention and where it comes from.
- Set-ExperimentRetention: set or clear an experiment's retention override and archive-now request.
- Invoke-TraceArchive: one archival pass, as MLflow's scheduler runs it.
- Restore-Trace: bring archived span payloads back into the store.
- Set-TraceLegalHold: put traces under legal hold (tag mltraces.legalHold), so no deletion takes them.
- Clear-TraceLegalHold: lift the legal hold from traces.
- Measure-TraceStore: what each experiment holds (traces, spans, payload bytes), its retention, what archival and deletion would take, and the store's free space.
- Optimize-TraceStore: give a store's free space back (SQLite VACUUM, PostgreSQL VACUUM) and refresh its statistics.
'@
        }
    }
}
