# Pester 5 tests for people who have pwsh: the same scenarios the xunit tests drive through the hosted engine.
# Run with ./build.ps1 (it builds out/MlTraces first).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
}

Describe 'MlTraces on a new store' {
    BeforeEach {
        $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Folder | Out-Null
        Push-Location $script:Folder
        New-TraceStore | Out-Null
        Import-Trace -Path $script:Samples -ExperimentName samples
    }
    AfterEach {
        Pop-Location
        Remove-Item -LiteralPath $script:Folder -Recurse -Force
    }

    It 'searches the default store sqlite:///mlflow.db in the current location' {
        $errors = Search-Trace -Filter "status = 'ERROR'"
        $errors.Count | Should -BeGreaterThan 0
        $errors | ForEach-Object { $_.State | Should -Be 'ERROR' }
    }

    It 'returns traces newest first, ids breaking ties' {
        $all = Search-Trace -ExperimentName samples
        $sorted = $all | Sort-Object @{ Expression = 'TimestampMs'; Descending = $true }, @{ Expression = 'TraceId'; Descending = $false }
        ($all.TraceId -join ',') | Should -Be ($sorted.TraceId -join ',')
    }

    It 'gets traces by id from the pipeline, with spans' {
        $first = Search-Trace -First 3
        $full = $first | Get-Trace
        $full.Count | Should -Be 3
        $full | ForEach-Object { $_.Spans | Should -Not -BeNullOrEmpty }
    }

    It 'reports an unknown id as a non-terminating error and goes on' {
        $id = (Search-Trace -First 1).TraceId
        $found = Get-Trace -TraceId 'tr-00000000000000000000000000000000', $id -ErrorVariable err -ErrorAction SilentlyContinue
        $found.TraceId | Should -Be $id
        $err[0].FullyQualifiedErrorId | Should -BeLike 'TraceNotFound,*'
    }

    It 'round-trips export and import byte for byte' {
        $a = Join-Path $script:Folder 'a.jsonl'; $b = Join-Path $script:Folder 'b.jsonl'
        Search-Trace -ExperimentName samples | Export-Trace -Path $a
        New-TraceStore -TrackingUri sqlite:///copy.db | Out-Null
        Import-Trace -Path $a -TrackingUri sqlite:///copy.db -ExperimentName samples
        Search-Trace -TrackingUri sqlite:///copy.db -ExperimentName samples | Export-Trace -Path $b
        (Get-FileHash $a).Hash | Should -Be (Get-FileHash $b).Hash
    }

    It 'removes traces piped from Search-Trace, oldest first with -MaxTraces' {
        $oldest = Search-Trace -OrderBy 'timestamp_ms ASC' -First 2
        Remove-Trace -OlderThan 1m -MaxTraces 2 -Confirm:$false
        $oldest | Get-Trace -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $next = Search-Trace -First 1
        $next | Remove-Trace -Confirm:$false
        Search-Trace | Where-Object TraceId -eq $next.TraceId | Should -BeNullOrEmpty
    }

    It 'refuses ids MLflow could not have written, and keeps MLflow''s parameter rules' {
        { Remove-Trace -TraceId 'tr-*' -Confirm:$false -ErrorAction Stop } | Should -Throw '*not wildcards*'
        { Remove-Trace -TraceId tr-1 -MaxTraces 3 -ErrorAction Stop } | Should -Throw '*`max_traces` can''t be specified if `trace_ids` is specified*'
        { Remove-Trace -OlderThan 1d -MaxTraces 0 -ErrorAction Stop } | Should -Throw '*received 0*'
    }

    It 'gives MLflow''s message for a malformed filter' {
        { Search-Trace -Filter "name = 'a' OR name = 'b'" -ErrorAction Stop } | Should -Throw '*Invalid clause(s) in filter string*'
    }

    It 'deletes nothing with -WhatIf and exactly the planned traces for real' {
        $before = (Get-FileHash mlflow.db).Hash
        Remove-Trace -ExperimentName samples -Filter "status = 'ERROR'" -WhatIf
        (Get-FileHash mlflow.db).Hash | Should -Be $before
        $errors = @(Search-Trace -ExperimentName samples -Filter "status = 'ERROR'").TraceId
        $receipts = Remove-Trace -ExperimentName samples -Filter "status = 'ERROR'" -Confirm:$false -PassThru
        @($receipts | Where-Object Deleted).TraceId | Sort-Object | Should -Be ($errors | Sort-Object)
        @(Search-Trace -ExperimentName samples -Filter "status = 'ERROR'").Count | Should -Be 0
    }

    It 'archives, reads archived traces and restores them' {
        $config = Join-Path $script:Folder 'archival.yaml'
        Set-Content $config "trace_archival:`n  enabled: true`n  location: $(([uri](Join-Path $script:Folder 'archive')).AbsoluteUri)`n  retention: 1d`n"
        Set-ExperimentRetention -ExperimentName samples -ArchiveNow
        (Get-ExperimentRetention -ExperimentName samples -ConfigPath $config).ArchiveNowRequested | Should -BeTrue
        $first = Search-Trace -ExperimentName samples -Filter "status = 'OK'" -OrderBy 'timestamp_ms ASC' -First 1 | Get-Trace
        $summary = Invoke-TraceArchive -ConfigPath $config -Confirm:$false
        $summary.Archived | Should -BeGreaterThan 0
        $archived = Get-Trace $first.TraceId
        $archived.SpansLocation | Should -Be 'ARCHIVE_REPO'
        ($archived.Spans.Content -join '') | Should -Be ($first.Spans.Content -join '')
        Restore-Trace -ExperimentName samples -Confirm:$false
        (Get-Trace $first.TraceId).SpansLocation | Should -Be 'TRACKING_STORE'
    }
}
