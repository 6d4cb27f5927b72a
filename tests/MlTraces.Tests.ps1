# Pester 5 tests in real pwsh: the scenarios the xunit tests drive through the hosted engine, and what only a real
# pwsh shows (its formatter, help, completion, the Utility cmdlets on our objects, preference variables, $Error,
# module discovery). `dotnet test` runs this file in pwsh 7.6.10 with Pester 5.7.1 (tests/Invoke-PesterSuite.ps1,
# started by the xunit test PesterTests); `./build.ps1 -Task Pester` runs it alone.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
    # A new folder, made the current location, with the default store mlflow.db holding the sample traces.
    function Enter-SampleStore {
        $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Folder | Out-Null
        Push-Location $script:Folder
        New-TraceStore | Out-Null
        Import-Trace -Path $script:Samples -ExperimentName samples
    }
    function Exit-SampleStore {
        Pop-Location
        Remove-Item -LiteralPath $script:Folder -Recurse -Force
    }
}

Describe 'MlTraces on a new store' {
    BeforeEach {
        Enter-SampleStore
    }
    AfterEach {
        Exit-SampleStore
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
        # -like patterns treat a backtick as an escape: MLflow's message quotes names in backticks, so escape it.
        { Remove-Trace -TraceId tr-1 -MaxTraces 3 -ErrorAction Stop } | Should -Throw ('*' + [WildcardPattern]::Escape('`max_traces` can''t be specified if `trace_ids` is specified') + '*')
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
        # [uri]'/a/b' is a relative URI on Linux (the cast allows both kinds); the constructor makes it absolute.
        Set-Content $config "trace_archival:`n  enabled: true`n  location: $([uri]::new((Join-Path $script:Folder 'archive')).AbsoluteUri)`n  retention: 1d`n"
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

Describe 'MlTraces in a real pwsh' {
    BeforeAll {
        Enter-SampleStore
        # A pwsh of the same kind as this one, for what must happen in a fresh process: run as a .NET tool,
        # this process is dotnet and the shell is pwsh.dll beside $PSHOME.
        function Invoke-FreshPwsh([string] $Command) {
            $exe = [Environment]::ProcessPath
            $first = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
            & $exe @first -NoLogo -NoProfile -NonInteractive -Command $Command
        }
    }
    AfterAll {
        Exit-SampleStore
    }

    Context 'the default views, through pwsh''s own formatter' {
        It 'shows a trace table that fits <Width> columns' -ForEach @(
            @{ Width = 80; Columns = @('RequestTime', 'TraceId', 'State', 'Name') }
            @{ Width = 120; Columns = @('RequestTime', 'TraceId', 'State', 'Name', 'Duration', 'Request') }
        ) {
            $traces = Search-Trace -First 8
            $lines = ($traces | Out-String -Width $Width) -split "`r?`n" | Where-Object { $_.Trim() }
            $header = $lines[0] -split '\s+' | Where-Object { $_ }
            $header | Should -Be $Columns
            $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual $Width }
            # Every trace's whole id and state are on its own line.
            $lines.Count | Should -Be ($traces.Count + 2)
            # (The view shows STATE_UNSPECIFIED as UNSPECIFIED, to fit its column.)
            foreach ($t in $traces) { $lines | Where-Object { $_ -like "*$($t.TraceId) $($t.State -replace '^STATE_') *" } | Should -HaveCount 1 }
        }

        It 'shows a trace as a list with its tags, metadata, assessments and spans at <Width> columns' -ForEach @(@{ Width = 80 }, @{ Width = 120 }) {
            $id = (Search-Trace -Filter "status = 'OK'" -First 1).TraceId
            $trace = Get-Trace $id
            $text = $trace | Format-List | Out-String -Width $Width
            foreach ($label in 'TraceId', 'ExperimentId', 'State', 'RequestTime', 'Tags', 'Metadata', 'Spans', 'SpansLocation') {
                $text | Should -Match "(?m)^$label\s+: "
            }
            $text | Should -Match "(?m)^TraceId\s+: $id\s*$"
            $text | Should -Match ([regex]::Escape("$($trace.Spans[0].SpanType) $($trace.Spans[0].Name) [$($trace.Spans[0].Status)]"))
            ($text -split "`r?`n") | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual $Width }
        }

        It 'shows spans and assessments as tables of their own' {
            $trace = Search-Trace -Filter "status = 'OK'" -IncludeSpans | Where-Object { $_.Assessments.Count -gt 0 } | Select-Object -First 1
            $spans = $trace.Spans | Out-String -Width 120
            ($spans -split "`r?`n" | Where-Object { $_.Trim() })[0] -split '\s+' | Where-Object { $_ } | Should -Be @('SpanId', 'ParentSpanId', 'Type', 'Status', 'Duration', 'Name')
            foreach ($s in $trace.Spans) { $spans | Should -Match $s.SpanId }
            $assessments = $trace.Assessments | Out-String -Width 120
            ($assessments -split "`r?`n" | Where-Object { $_.Trim() })[0] -split '\s+' | Where-Object { $_ } | Should -Be @('TraceId', 'Type', 'Name', 'Source', 'Value')
        }
    }

    Context 'help' {
        It 'renders Get-Help <Name> -Full from the module''s own help' -ForEach @(
            Get-Command -Module MlTraces | ForEach-Object { @{ Name = $_.Name; Command = $_ } }
        ) {
            $help = Get-Help $Name -Full
            $text = $help | Out-String -Width 120
            # Help pwsh made up from the syntax alone has no description and no examples.
            ($help.description | Out-String).Trim() | Should -Not -BeNullOrEmpty
            @($help.examples.example).Count | Should -BeGreaterThan 0
            $text | Should -Match '(?m)^SYNOPSIS'
            $text | Should -Match '(?m)^PARAMETERS'
            foreach ($p in $Command.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters -and $_ -notin [System.Management.Automation.PSCmdlet]::OptionalCommonParameters }) {
                $text | Should -Match "(?m)^    -$p\b"
            }
        }

        It 'renders the about topic <Topic>' -ForEach @(@{ Topic = 'about_MlTraces' }, @{ Topic = 'about_MlTraces_Filters' }) {
            $text = Get-Help $Topic | Out-String -Width 80
            $text | Should -Match "(?m)^\s*$Topic\s*$"
            $text | Should -Match '(?m)^SHORT DESCRIPTION'
            $text | Should -Match '(?m)^LONG DESCRIPTION'
            $text.Length | Should -BeGreaterThan 2000
        }
    }

    Context 'tab completion (TabExpansion2)' {
        BeforeAll {
            function Complete([string] $line) { (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText }
        }
        It 'completes -ExperimentName from the store' {
            Complete 'Search-Trace -ExperimentName ' | Should -Be @('Default', 'samples')
            Complete 'Set-ExperimentRetention -ExperimentName sam' | Should -Be @('samples')
            New-TraceStore -TrackingUri sqlite:///other.db | Out-Null
            Complete 'Search-Trace -TrackingUri sqlite:///other.db -ExperimentName ' | Should -Be @('Default')
        }
        It 'completes -OrderBy with MLflow''s fields' {
            Complete 'Search-Trace -OrderBy time' | Should -Contain "'timestamp_ms'"
            Complete 'Search-Trace -OrderBy tag.' | Should -Contain "'tag.``mlflow.traceName``'"
        }
        It 'completes -Filter fields, keeping what was typed before' {
            Complete "Search-Trace -Filter 'sta" | Should -Contain "'status"
            Complete "Search-Trace -Filter 'status = ''ERROR'' AND span.t" | Should -Contain "'status = ''ERROR'' AND span.type"
        }
    }

    Context 'the Utility cmdlets on the output objects' {
        It 'selects, sorts and groups traces' {
            $all = Search-Trace -ExperimentName samples
            $groups = $all | Group-Object State
            foreach ($g in $groups) { $g.Count | Should -Be @(Search-Trace -ExperimentName samples -Filter "status = '$($g.Name)'").Count }
            ($groups | Measure-Object Count -Sum).Sum | Should -Be $all.Count
            $slowest = $all | Where-Object ExecutionTimeMs | Sort-Object ExecutionDuration -Descending | Select-Object -First 3 TraceId, ExecutionDuration
            $slowest.Count | Should -Be 3
            $slowest[0].ExecutionDuration | Should -BeGreaterOrEqual $slowest[2].ExecutionDuration
            $slowest[0].TraceId | Should -Be (Search-Trace -ExperimentName samples -OrderBy 'execution_time_ms DESC' -First 1).TraceId
        }
        It 'converts traces to JSON and back' {
            $traces = Search-Trace -First 5
            $json = $traces | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue
            $back = $json | ConvertFrom-Json
            $back.TraceId | Should -Be $traces.TraceId
            $back[0].Tags.'mlflow.traceName' | Should -Be $traces[0].Tags['mlflow.traceName']
        }
        It 'exports traces to CSV and reads them back' {
            $traces = Search-Trace -First 5
            $traces | Export-Csv -Path traces.csv
            $rows = Import-Csv traces.csv
            $rows.TraceId | Should -Be $traces.TraceId
            $rows.State | Should -Be $traces.State
            $traces | Select-Object TraceId, Name, @{ n = 'Ms'; e = { $_.ExecutionTimeMs } } | Export-Csv -Path picked.csv
            (Import-Csv picked.csv)[0].PSObject.Properties.Name | Should -Be @('TraceId', 'Name', 'Ms')
        }
    }

    Context 'preference variables' {
        BeforeEach {
            Copy-Item mlflow.db work.db -Force
            $script:Uri = 'sqlite:///work.db'
        }
        It 'deletes nothing under $WhatIfPreference and deletes with -WhatIf:$false' {
            $before = (Get-FileHash work.db).Hash
            $errors = @(Search-Trace -TrackingUri $script:Uri -Filter "status = 'ERROR'").TraceId
            $errors.Count | Should -BeGreaterThan 0
            & {
                $WhatIfPreference = $true
                Remove-Trace -TrackingUri $script:Uri -ExperimentName samples -Filter "status = 'ERROR'" -Confirm:$false | Out-Null
                Set-ExperimentRetention -TrackingUri $script:Uri -ExperimentName samples -ArchiveNow | Out-Null
            }
            (Get-FileHash work.db).Hash | Should -Be $before
            & {
                $WhatIfPreference = $true
                $receipts = Remove-Trace -TrackingUri $script:Uri -ExperimentName samples -Filter "status = 'ERROR'" -Confirm:$false -WhatIf:$false -PassThru
                @($receipts | Where-Object Deleted).TraceId | Sort-Object | Should -Be ($errors | Sort-Object)
            }
            @(Search-Trace -TrackingUri $script:Uri -Filter "status = 'ERROR'").Count | Should -Be 0
        }
        It 'turns the per-item error into a terminating one under $ErrorActionPreference = ''Stop''' {
            $ErrorActionPreference = 'Stop'
            { Get-Trace -TrackingUri $script:Uri -TraceId 'tr-00000000000000000000000000000000' } | Should -Throw -ErrorId 'TraceNotFound,MlTraces.Commands.GetTraceCommand'
        }
    }

    Context '-ErrorAction and $Error' {
        It 'records a per-item error in $Error and goes on (<Action>)' -ForEach @(
            @{ Action = 'SilentlyContinue'; Recorded = $true }
            @{ Action = 'Continue'; Recorded = $true }
            @{ Action = 'Ignore'; Recorded = $false }
        ) {
            $good = (Search-Trace -First 1).TraceId
            $missing = 'tr-00000000000000000000000000000000'
            $Error.Clear()
            $found = Get-Trace -TraceId $missing, $good -ErrorAction $Action 2>$null
            $found.TraceId | Should -Be $good
            if ($Recorded) {
                $Error.Count | Should -Be 1
                $Error[0].FullyQualifiedErrorId | Should -Be 'TraceNotFound,MlTraces.Commands.GetTraceCommand'
                $Error[0].TargetObject | Should -Be $missing
                $Error[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
                $Error[0].Exception.Message | Should -BeLike "*$missing*"
            }
            else { $Error.Count | Should -Be 0 }
        }
        It 'stops at the first per-item error with -ErrorAction Stop' {
            $good = (Search-Trace -First 1).TraceId
            $Error.Clear()
            $out = $null
            { $script:out = Get-Trace -TraceId 'tr-00000000000000000000000000000000', $good -ErrorAction Stop } | Should -Throw -ErrorId 'TraceNotFound,MlTraces.Commands.GetTraceCommand'
            $script:out | Should -BeNullOrEmpty
            $Error[0].FullyQualifiedErrorId | Should -Be 'TraceNotFound,MlTraces.Commands.GetTraceCommand'
        }
        It 'throws a terminating error even with -ErrorAction SilentlyContinue, and records it' {
            $Error.Clear()
            $caught = $null
            try { Search-Trace -TrackingUri ./no-such.db -ErrorAction SilentlyContinue } catch { $caught = $_ }
            $caught | Should -Not -BeNullOrEmpty
            $caught.FullyQualifiedErrorId | Should -Be 'StoreNotFound,MlTraces.Commands.SearchTraceCommand'
            $caught.Exception.Message | Should -BeLike '*no-such.db*New-TraceStore*'
            $Error[0].FullyQualifiedErrorId | Should -Be 'StoreNotFound,MlTraces.Commands.SearchTraceCommand'
            Test-Path no-such.db | Should -BeFalse
        }
    }

    Context 'module discovery' {
        It 'imports MlTraces by name from a folder on $env:PSModulePath, with its help and formats' {
            $modules = Join-Path $script:Folder 'Modules'
            New-Item -ItemType Directory -Path (Join-Path $modules 'MlTraces') -Force | Out-Null
            Copy-Item -Path (Join-Path $PSScriptRoot '../out/MlTraces/*') -Destination (Join-Path $modules 'MlTraces') -Recurse
            $manifest = Import-PowerShellDataFile (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1')
            $out = Invoke-FreshPwsh @"
`$env:PSModulePath = '$modules' + [IO.Path]::PathSeparator + `$env:PSModulePath
(Get-Module -ListAvailable MlTraces).ModuleBase
Set-Location '$($script:Folder)'
Search-Trace -First 1 | Out-Null   # module autoloading: the command alone imports it
(Get-Module MlTraces).ModuleBase
(Get-Module MlTraces).Version.ToString()
(Get-Command -Module MlTraces).Name -join ','
(Get-Help Search-Trace).Synopsis
(Search-Trace -First 2 | Out-String -Width 120) -match 'RequestTime +TraceId'
"@
            $out[0] | Should -Be (Join-Path $modules 'MlTraces')
            $out[1] | Should -Be (Join-Path $modules 'MlTraces')
            $out[2] | Should -Be $manifest.ModuleVersion
            ($out[3] -split ',' | Sort-Object) | Should -Be ($manifest.CmdletsToExport | Sort-Object)
            $out[4] | Should -Be (Get-Help Search-Trace).Synopsis
            $out[5] | Should -Be 'True'
        }
    }
}

# The audit log, read exactly as about_MlTraces shows it: the example is taken from the about topic of the laid-out
# module and run as written, so the help cannot drift from what works.
Describe 'The audit log' {
    BeforeEach {
        Enter-SampleStore
        $script:OldLog = $env:MLTRACES_AUDIT_LOG
        $env:MLTRACES_AUDIT_LOG = Join-Path $script:Folder 'audit.jsonl'
        $script:About = Join-Path $PSScriptRoot '../out/MlTraces/en-US/about_MlTraces.help.txt'
    }
    AfterEach {
        $env:MLTRACES_AUDIT_LOG = $script:OldLog
        Exit-SampleStore
    }

    It 'answers "when was trace X deleted, by whom" with the example of about_MlTraces' {
        $lines = Get-Content -LiteralPath $script:About
        $start = [array]::FindIndex([string[]]$lines, [Predicate[string]] { param($l) $l -match "^\s+\`$id = 'tr-" })
        $start | Should -BeGreaterThan 0
        $example = @($lines[$start]) + @($lines[($start + 1)..($lines.Count - 1)] | ForEach-Object -Begin { $in = $true } -Process {
            if ($in -and $_ -match '^\s{4,}\S') { $_ } else { $in = $false } })
        ($example -join "`n") | Should -BeLike '*ConvertFrom-Json*Select-Object*'
        $id = ([regex]::Match($example[0], "'(tr-[0-9a-f]+)'")).Groups[1].Value
        (Get-Trace -TraceId $id).TraceId | Should -Be $id

        $before = [DateTime]::UtcNow.AddSeconds(-1)
        Remove-Trace -TraceId $id -WhatIf 3>$null
        Set-TraceLegalHold -TraceId $id -Confirm:$false
        Clear-TraceLegalHold -TraceId $id -Confirm:$false
        Remove-Trace -TraceId $id, (Search-Trace -First 1 -Filter "trace.request_id != '$id'").TraceId -Confirm:$false 3>$null
        $after = [DateTime]::UtcNow.AddSeconds(1)
        Get-Trace -TraceId $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-Content -LiteralPath $env:MLTRACES_AUDIT_LOG).Count | Should -Be 4

        $found = @(. ([scriptblock]::Create($example -join "`n")))
        $found.Count | Should -Be 1
        $found[0].user | Should -Be ([Environment]::UserName)
        $found[0].machine | Should -Be ([Environment]::MachineName)
        $found[0].outcome | Should -Be 'Completed'
        $found[0].store | Should -Be ('sqlite:///' + (Join-Path $script:Folder 'mlflow.db'))
        ([DateTime]$found[0].time).ToUniversalTime() | Should -BeGreaterThan $before
        ([DateTime]$found[0].time).ToUniversalTime() | Should -BeLessThan $after
    }
}
