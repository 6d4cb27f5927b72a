<#
.SYNOPSIS
    Nightly maintenance of an MLflow trace store: a retention deletion (only when -DeleteOlderThan is given), then
    one archival pass; one log line per run that says what was done and, when something failed, why; an exit code
    that says whether anything failed.
.DESCRIPTION
    Runs as is from Windows Task Scheduler, cron or a systemd timer (see the README), in pwsh, Windows PowerShell or
    MlTraces.Shell. It never prompts. It uses only the engine's core commands and .NET, so it also runs where the
    PowerShell utility modules are missing.
    Deletion runs first, so the archival pass never spends time archiving traces the same run then deletes. Nothing is
    deleted unless -DeleteOlderThan says how old a trace must be: there is no default age.
.EXAMPLE
    pwsh -NoProfile -File nightly-maintenance.ps1 -TrackingUri sqlite:////srv/mlflow/mlflow.db -ConfigPath /etc/mlflow/trace-archival.yaml -DeleteOlderThan 180d
#>
param(
    # The store; default $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the current folder.
    [string] $TrackingUri,
    # The MLflow server's trace archival YAML; default $env:MLFLOW_TRACE_ARCHIVAL_CONFIG. Without one, no archival pass.
    [string] $ConfigPath = $env:MLFLOW_TRACE_ARCHIVAL_CONFIG,
    # Traces that started this long ago are deleted (30d, 12h, 90m). Not given: nothing is deleted.
    [string] $DeleteOlderThan,
    # At most this many traces are archived per run.
    [long] $MaxArchive = 100000,
    # One line per run is appended here.
    [string] $LogPath = 'mltraces-maintenance.log',
    # The MLflow server's --artifacts-destination, when its experiments' artifact locations are mlflow-artifacts:/
    # (default $env:MLTRACES_ARTIFACTS_DESTINATION, which the commands read themselves). Without it, traces whose
    # artifacts are there are kept, each with an error in the log line, rather than leaving their objects behind.
    [string] $ArtifactsDestination
)

$ErrorActionPreference = 'Continue'
$ConfirmPreference = 'None'
if (-not (Get-Command Invoke-TraceArchive -ErrorAction SilentlyContinue)) { Import-Module MlTraces -ErrorAction Stop }
$store = @{}
if ($TrackingUri) { $store.TrackingUri = $TrackingUri }
if ($ArtifactsDestination) { $store.ArtifactsDestination = $ArtifactsDestination }
$failures = 0
$archived = 0
$deleted = 0
# The error records of this run, for the log line's reason.
$problems = @()
$started = [DateTimeOffset]::UtcNow

if ($DeleteOlderThan) {
    try {
        $receipts = @(Remove-Trace @store -OlderThan $DeleteOlderThan -Confirm:$false -PassThru -ErrorVariable +deleteErrors -ErrorAction Continue)
        $deleted = @($receipts | Where-Object { $_.Deleted }).Count
        $failures += @($deleteErrors).Count
        $problems += @($deleteErrors)
    }
    catch {
        $failures++
        $problems += $_
        $Host.UI.WriteWarningLine("Retention deletion failed: $_")
    }
}

if ($ConfigPath) {
    try {
        $summary = Invoke-TraceArchive @store -ConfigPath $ConfigPath -MaxTraces $MaxArchive -ErrorVariable +archiveErrors -ErrorAction Continue
        $archived = $summary.Archived
        $failures += @($archiveErrors).Count
        $problems += @($archiveErrors)
    }
    catch {
        $failures++
        $problems += $_
        $Host.UI.WriteWarningLine("Archival pass failed: $_")
    }
}

$seconds = ([DateTimeOffset]::UtcNow - $started).TotalSeconds
$storeName = if ($TrackingUri) { $TrackingUri } else { 'default' }
$line = '{0} store={1} deleted={2} archived={3} failures={4} seconds={5:0.0}' -f $started.ToString('o'), $storeName, $deleted, $archived, $failures, $seconds
if ($problems.Count -gt 0) {
    # The first failure's error id and message, on the same line (a log line per run), quoted for a log parser.
    $first = $problems[0]
    $id = if ($first -is [System.Management.Automation.ErrorRecord]) { ($first.FullyQualifiedErrorId -split ',')[0] } else { 'Error' }
    $why = ("$first" -replace '\s+', ' ').Trim() -replace '"', "'"
    $more = if ($problems.Count -gt 1) { " (and $($problems.Count - 1) more)" } else { '' }
    $line += ' error={0} reason="{1}{2}"' -f $id, $why, $more
}
[System.IO.File]::AppendAllText([System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PWD.ProviderPath, $LogPath)), $line + [Environment]::NewLine)
$line
exit ([int]($failures -gt 0))
