# Measure-TraceStore and Optimize-TraceStore in a real console: "who is eating the store" answered with Sort-Object
# and Select-Object on the typed objects, and the views through pwsh's own formatter at 80 and 120 columns.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
    New-Item -ItemType Directory -Path $script:Folder | Out-Null
    Push-Location $script:Folder
    New-TraceStore | Out-Null
    # The 300 sample traces over seven experiments of different sizes (1, 2, ... 7 parts of 28 lines).
    $lines = Get-Content -LiteralPath (Join-Path $PSScriptRoot '../samples/traces.jsonl')
    $start = 0
    foreach ($i in 1..7) {
        $count = [Math]::Min($i * 10, $lines.Count - $start)
        $part = Join-Path $script:Folder "part$i.jsonl"
        Set-Content -LiteralPath $part -Value $lines[$start..($start + $count - 1)]
        Import-Trace -Path $part -ExperimentName "team-$i-with-a-long-experiment-name"
        $start += $count
    }
    $script:All = @(Measure-TraceStore)
    function Get-ViewLines($objects, [int] $width) {
        @(($objects | Out-String -Width $width) -split "`r?`n" | Where-Object { $_.Trim() })
    }
}

AfterAll {
    Pop-Location
    Remove-Item -LiteralPath $script:Folder -Recurse -Force
}

Describe 'Measure-TraceStore | Sort-Object PayloadBytes -Descending | Select-Object -First 5' {
    It 'names the five experiments that hold the most span payload, biggest first' {
        $top = @(Measure-TraceStore | Sort-Object PayloadBytes -Descending | Select-Object -First 5)
        $top.Count | Should -Be 5
        $top[0].PSObject.TypeNames[0] | Should -Be 'MlTraces.ExperimentUsage'
        $expected = @($script:All | ForEach-Object PayloadBytes | Sort-Object -Descending | Select-Object -First 5)
        @($top.PayloadBytes) | Should -Be $expected
        $top[0].PayloadBytes | Should -BeGreaterThan $top[4].PayloadBytes
        $top[0].Name | Should -Be 'team-7-with-a-long-experiment-name'
        ($script:All | Measure-Object Traces -Sum).Sum | Should -Be 280
    }

    It 'keeps its figures as numbers and times for Where-Object, Export-Csv and ConvertTo-Json' {
        @($script:All | Where-Object { $_.PayloadBytes -gt 0 -and $_.OldestTrace -le [DateTimeOffset]::UtcNow }).Count | Should -Be 7
        $csv = $script:All | Select-Object ExperimentId, PayloadBytes | ConvertTo-Csv
        $csv[0] | Should -Be '"ExperimentId","PayloadBytes"'
        ($script:All[1] | ConvertTo-Json -Depth 3 | ConvertFrom-Json).PayloadBytes | Should -Be $script:All[1].PayloadBytes
    }
}

Describe 'The Measure-TraceStore table at <Width> columns' -ForEach @(
    @{ Width = 80; Columns = @('Exp', 'Name', 'Traces', 'Spans', 'Payload', 'Archived', 'Oldest') }
    @{ Width = 79; Columns = @('Exp', 'Name', 'Traces', 'Spans', 'Payload', 'Archived', 'Oldest') }
    @{ Width = 120; Columns = @('Exp', 'Name', 'Traces', 'Spans', 'Payload', 'Archived', 'Oldest', 'Errors', 'Retention', 'NextPass', 'OlderThan') }
) {
    It 'has its header on one line, a row per experiment, no line too wide, and sizes a person reads' {
        $top = @($script:All | Sort-Object PayloadBytes -Descending | Select-Object -First 5)
        $lines = Get-ViewLines $top $Width
        $lines[1] | Should -Match '^[- ]+$' -Because "the header must be one line: $($lines[0..2] -join ' / ')"
        @($lines[0] -split '\s+' | Where-Object { $_ }) | Should -Be $Columns
        $lines.Count | Should -Be 7
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual $Width }
        foreach ($u in $top) {
            $row = @($lines | Where-Object { $_ -match "^\s*$($u.ExperimentId) " })
            $row.Count | Should -Be 1
            $row[0] | Should -Match ([regex]::Escape($u.Name.Substring(0, 10)))
            $row[0] | Should -Match '\d+\.\d (KB|MB) '
            $row[0] | Should -Match ([regex]::Escape('{0:N0}' -f $u.Traces))
            $row[0] | Should -Match ([regex]::Escape($u.OldestTrace.UtcDateTime.ToString('yyyy-MM-dd')))
        }
    }

    It 'shows the workspace table the same way' {
        $lines = Get-ViewLines (Measure-TraceStore -By Workspace) $Width
        $lines[1] | Should -Match '^[- ]+$'
        $lines[0] | Should -Match '^Workspace\s+Exps\s+Traces'
        $lines[2] | Should -Match '^default\s+8\s+280 '
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual $Width }
    }
}

Describe 'The store and the optimization as lists' {
    It 'shows the store figures and the dry run of Optimize-TraceStore' {
        $store = Measure-TraceStore -By Store
        $text = $store | Out-String -Width 80
        $text | Should -Match '(?m)^StoreBytes\s+: \d+'
        $text | Should -Match '(?m)^FreeBytes\s+: \d+'
        $text | Should -Match '(?m)^TracesByState\s+: (\w+ \d+, )*OK \d+'
        $plan = Optimize-TraceStore -WhatIf
        $plan.Status | Should -Be 'Planned'
        $plan.BytesBefore | Should -Be $store.StoreBytes
        ($plan | Out-String -Width 80) | Should -Match '(?m)^DiskSpaceNeeded\s+: .+: [\d,]+ bytes'
        $done = Optimize-TraceStore -Confirm:$false
        $done.Status | Should -Be 'Optimized'
        ($done | Out-String -Width 80) | Should -Match '(?m)^BytesFreed\s+: \d+'
    }
}
