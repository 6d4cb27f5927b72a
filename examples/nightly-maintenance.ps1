<#
.SYNOPSIS
    Nightly maintenance of an MLflow trace store: one archival pass, then a retention deletion; one log line per run
    and an exit code that says whether anything failed.
.DESCRIPTION
    Runs as is from Windows Task Scheduler, cron or a systemd timer (see the README), in pwsh, Windows PowerShell or
    MlTraces.Shell. It never prompts. It uses only the engine's core commands and .NET, so it also runs where the
    PowerShell utility modules are missing.
.EXAMPLE
    pwsh -NoProfile -File nightly-maintenance.ps1 -TrackingUri sqlite:////srv/mlflow/mlflow.db -ConfigPath /etc/mlflow/trace-archival.yaml -DeleteOlderThan 180d
#>
param(
    # The store; default $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the current folder.
    [string] $TrackingUri,
    # The MLflow server's trace archival YAML; default $env:MLFLOW_TRACE_ARCHIVAL_CONFIG. Without one, no archival pass.
    [string] $ConfigPath = $env:MLFLOW_TRACE_ARCHIVAL_CONFIG,
    # Traces that started this long ago are deleted (30d, 12h, 90m). Empty: no deletion.
    [string] $DeleteOlderThan = '90d',
    # At most this many traces are archived per run.
    [long] $MaxArchive = 100000,
    # One line per run is appended here.
    [string] $LogPath = 'mltraces-maintenance.log'
)

$ErrorActionPreference = 'Continue'
$ConfirmPreference = 'None'
if (-not (Get-Command Invoke-TraceArchive -ErrorAction SilentlyContinue)) { Import-Module MlTraces -ErrorAction Stop }
$store = @{}
if ($TrackingUri) { $store.TrackingUri = $TrackingUri }
$failures = 0
$archived = 0
$deleted = 0
$started = [DateTimeOffset]::UtcNow

if ($ConfigPath) {
    try {
        $summary = Invoke-TraceArchive @store -ConfigPath $ConfigPath -MaxTraces $MaxArchive -ErrorVariable +archiveErrors -ErrorAction Continue
        $archived = $summary.Archived
        $failures += @($archiveErrors).Count
    }
    catch {
        $failures++
        Write-Warning "Archival pass failed: $_"
    }
}

if ($DeleteOlderThan) {
    try {
        $receipts = @(Remove-Trace @store -OlderThan $DeleteOlderThan -Confirm:$false -PassThru -ErrorVariable +deleteErrors -ErrorAction Continue)
        $deleted = @($receipts | Where-Object { $_.Deleted }).Count
        $failures += @($deleteErrors).Count
    }
    catch {
        $failures++
        Write-Warning "Retention deletion failed: $_"
    }
}

$seconds = ([DateTimeOffset]::UtcNow - $started).TotalSeconds
$storeName = if ($TrackingUri) { $TrackingUri } else { 'default' }
$line = '{0} store={1} archived={2} deleted={3} failures={4} seconds={5:0.0}' -f $started.ToString('o'), $storeName, $archived, $deleted, $failures, $seconds
[System.IO.File]::AppendAllText([System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PWD.ProviderPath, $LogPath)), $line + [Environment]::NewLine)
$line
exit ([int]($failures -gt 0))
