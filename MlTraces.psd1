@{
    RootModule           = 'MlTraces.dll'
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
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('MLflow', 'Tracing', 'GenAI', 'LLM', 'Observability', 'SQLite', 'Windows', 'Linux', 'MacOS')
            ProjectUri   = 'https://github.com/mltraces/MlTraces'
            LicenseUri   = 'https://github.com/mltraces/MlTraces/blob/main/LICENSE'
            ReleaseNotes = 'First release: Get-Trace, Search-Trace, New-TraceStore, Export-Trace, Import-Trace.'
        }
    }
}
