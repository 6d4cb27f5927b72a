# The module's main job on the default embedded store: create sqlite:///mlflow.db in the current folder if it is
# missing, import the shipped sample traces into the experiment 'sample-traces', and search them.
# Runs as is in pwsh (after Import-Module MlTraces) and in MlTraces.Shell (dotnet run ... -File samples/quickstart.ps1).
param([string]$TrackingUri = 'sqlite:///mlflow.db')
$ErrorActionPreference = 'Stop'

try {
    New-TraceStore -TrackingUri $TrackingUri | Out-Null
    "Created the store $TrackingUri."
}
catch [MlTraces.Core.MlTracesException] {
    # The file exists already: use it as it is.
}

$imported = @(Search-Trace -TrackingUri $TrackingUri -ExperimentName sample-traces -First 1 -ErrorAction SilentlyContinue)
if ($imported.Count -eq 0) {
    $samples = [System.IO.Path]::Combine($PSScriptRoot, 'traces.jsonl')
    $count = @(Import-Trace -LiteralPath $samples -TrackingUri $TrackingUri -ExperimentName sample-traces -PassThru).Count
    "Imported $count sample traces into the experiment 'sample-traces'."
}

""
"The 10 newest traces that failed:"
Search-Trace -TrackingUri $TrackingUri -ExperimentName sample-traces -Filter "status = 'ERROR'" -First 10

""
"Traces with an LLM span that failed, in production:"
Search-Trace -TrackingUri $TrackingUri -ExperimentName sample-traces -Filter "span.type = 'LLM' AND span.status = 'ERROR' AND tag.env = 'prod'" -First 5
