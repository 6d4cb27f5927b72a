# The table views of every output type through pwsh's own formatter at 80 and 120 columns: the header on one line,
# the columns each width has room for, names given the width there is, messages cut only at a word, and times in
# UTC marked Z, as the -WhatIf lines show them.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
    New-Item -ItemType Directory -Path $script:Folder | Out-Null
    Push-Location $script:Folder
    New-TraceStore | Out-Null
    Import-Trace -Path (Join-Path $PSScriptRoot '../samples/traces.jsonl') -ExperimentName samples
    $config = Join-Path $script:Folder 'archival.yaml'
    Set-Content $config "trace_archival:`n  enabled: true`n  location: $([uri]::new((Join-Path $script:Folder 'archive')).AbsoluteUri)`n  retention: 1d`n"
    Set-ExperimentRetention -ExperimentName samples -ArchiveNow

    $script:Traces = @(Search-Trace -ExperimentName samples -OrderBy 'timestamp_ms ASC' -First 12)
    $archived = @(Invoke-TraceArchive -ConfigPath $config -MaxTraces 3 -PassThru -Confirm:$false)
    # A result left for the next pass carries a sentence; the pass writes it so when spans change under it.
    # Made from a returned result's type: MlTraces' types live in its private load context, which PowerShell's type
    # names do not reach (docs/ARCHITECTURE.md).
    $script:ArchiveResults = $archived + [Management.Automation.LanguagePrimitives]::ConvertTo(@{
        TraceId = $script:Traces[5].TraceId; ExperimentId = '1'; Status = 'LeftForNextPass'; Reason = 'Retention'; PayloadBytes = 123456
        Message = 'Spans were appended or changed during archival; the trace is left for a later pass.'
    }, $archived[0].GetType())
    $script:Restores = @(Restore-Trace -TraceId $archived[0].TraceId, $archived[1].TraceId, $script:Traces[6].TraceId -Confirm:$false -PassThru -ErrorAction SilentlyContinue)
    # "What if:" lines go to the host: a transcript catches them.
    $transcript = Join-Path $script:Folder 'whatif.txt'
    Start-Transcript -LiteralPath $transcript | Out-Null
    Remove-Trace -TraceId $script:Traces[7].TraceId -WhatIf
    Stop-Transcript | Out-Null
    $script:RemoveWhatIf = Get-Content -Raw -LiteralPath $transcript
    $script:Deletions = @(Remove-Trace -TraceId $script:Traces[7].TraceId, $script:Traces[8].TraceId, $archived[2].TraceId, 'tr-00000000000000000000000000000000' -Confirm:$false -PassThru -WarningAction SilentlyContinue)

    # The view's lines at this width, blank lines dropped.
    function Get-ViewLines($objects, [int] $width) {
        @(($objects | Out-String -Width $width) -split "`r?`n" | Where-Object { $_.Trim() })
    }
    # The header's column labels, checking the header is one line: the next line is its underline.
    function Get-Header([string[]] $lines) {
        $lines[1] | Should -Match '^[- ]+$' -Because "the header must be one line, not wrapped: $($lines[0..2] -join ' / ')"
        @($lines[0] -split '\s+' | Where-Object { $_ })
    }
}

AfterAll {
    Pop-Location
    Remove-Item -LiteralPath $script:Folder -Recurse -Force
}

# 79 and 119: a console host that keeps its last column free lays tables out one column narrower.
Describe 'The table views at <Width> columns' -ForEach @(
    @{ Width = 80
       Trace = @('RequestTime', 'TraceId', 'State', 'Name')
       Deletion = @('TraceId', 'Status', 'Spans', 'Files')
       Archive = @('TraceId', 'Status', 'Message')
       Restore = @('TraceId', 'Status', 'Spans', 'Error') }
    @{ Width = 79
       Trace = @('RequestTime', 'TraceId', 'State', 'Name')
       Deletion = @('TraceId', 'Status', 'Spans', 'Files')
       Archive = @('TraceId', 'Status', 'Message')
       Restore = @('TraceId', 'Status', 'Spans', 'Error') }
    @{ Width = 119
       Trace = @('RequestTime', 'TraceId', 'State', 'Name', 'Duration', 'Request')
       Deletion = @('TraceId', 'Status', 'Spans', 'Files', 'Assess', 'Links', 'Exp', 'RequestTime')
       Archive = @('TraceId', 'Status', 'Message', 'Reason', 'Bytes')
       Restore = @('TraceId', 'Status', 'Spans', 'Error', 'Bytes', 'Exp') }
    @{ Width = 120
       Trace = @('RequestTime', 'TraceId', 'State', 'Name', 'Duration', 'Request')
       Deletion = @('TraceId', 'Status', 'Spans', 'Files', 'Assess', 'Links', 'Exp', 'RequestTime')
       Archive = @('TraceId', 'Status', 'Message', 'Reason', 'Bytes')
       Restore = @('TraceId', 'Status', 'Spans', 'Error', 'Bytes', 'Exp') }
) {
    It 'shows each table with its header on one line, the columns there is room for, and no line too wide' {
        foreach ($case in @(
                @{ Objects = $script:Traces; Columns = $Trace }
                @{ Objects = $script:Deletions; Columns = $Deletion }
                @{ Objects = $script:ArchiveResults; Columns = $Archive }
                @{ Objects = $script:Restores; Columns = $Restore })) {
            $lines = Get-ViewLines $case.Objects $Width
            Get-Header $lines | Should -Be $case.Columns
            $lines.Count | Should -Be ($case.Objects.Count + 2) -Because 'each object is one line'
            $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual $Width }
        }
    }

    It 'gives trace names the width there is' {
        $lines = Get-ViewLines $script:Traces $Width
        $start = $lines[0].IndexOf('Name')
        # The Name column runs to the next column (120) or to the edge (80, where it is shrunk to fit).
        # (Duration is right-aligned: its 8-letter label sits one space into its 9 columns.)
        $end = if ($Width -ge 119) { $lines[0].IndexOf('Duration') - 1 } else { $Width + 1 }
        $room = $end - $start - 1
        $room | Should -Be $(if ($Width -ge 119) { 20 } else { $Width - 69 })
        $longest = ($script:Traces.Name | Measure-Object Length -Maximum).Maximum
        if ($Width -ge 119) { $longest | Should -BeLessOrEqual $room -Because 'every sample name fits whole at 120' }
        foreach ($t in $script:Traces) {
            $row = $lines | Where-Object { $_.Contains($t.TraceId) }
            $cell = $row.Substring($start, [Math]::Min($room, $row.Length - $start)).TrimEnd()
            $cell | Should -Be $(if ($t.Name.Length -le $room) { $t.Name } else { $t.Name.Substring(0, $room - 1) + [char]0x2026 })
        }
    }

    It 'cuts a message only at a word, and shows a short one whole' {
        $lines = Get-ViewLines $script:ArchiveResults $Width
        $start = $lines[0].IndexOf('Message')
        foreach ($r in $script:ArchiveResults) {
            $row = $lines | Where-Object { $_.Contains($r.TraceId) }
            $cell = $row.Substring([Math]::Min($start, $row.Length)).Substring(0, [Math]::Min(27, [Math]::Max(0, $row.Length - $start))).TrimEnd()
            if (-not $r.Message) { $cell | Should -BeNullOrEmpty; continue }
            if ($cell -eq $r.Message) { continue }
            $cell | Should -Match "$([char]0x2026)`$"
            $kept = $cell.TrimEnd([char]0x2026)
            $r.Message.StartsWith($kept) | Should -BeTrue
            # The word after the cut starts after a space or punctuation: nothing was cut mid-word.
            $r.Message.Substring($kept.Length) | Should -Match '^[\s,;:.]'
        }
    }

    It 'shows request times in UTC, marked Z, as the -WhatIf line does' {
        foreach ($case in @(@{ Objects = $script:Traces; Label = 'RequestTime' }, @{ Objects = @($script:Deletions | Where-Object RequestTime); Label = 'RequestTime' })) {
            $lines = Get-ViewLines $case.Objects $Width
            $start = $lines[0].IndexOf($case.Label)
            if ($start -lt 0) { continue }   # the receipt shows its time only at 120
            foreach ($o in $case.Objects) {
                $row = $lines | Where-Object { $_.Contains($o.TraceId) }
                $row.Substring($start, 20) | Should -Be $o.RequestTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'")
            }
        }
        $deleted = $script:Deletions | Where-Object TraceId -eq $script:Traces[7].TraceId
        $script:RemoveWhatIf | Should -Match ([regex]::Escape($deleted.RequestTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'")))
    }

    It 'shows the files a deletion removed or left behind' {
        $lines = Get-ViewLines $script:Deletions $Width
        $start = $lines[0].IndexOf('Files')
        foreach ($d in $script:Deletions) {
            $row = $lines | Where-Object { $_.Contains($d.TraceId) }
            $expected = @(if ($d.RemovedFiles.Count) { "$($d.RemovedFiles.Count) removed" }; if ($d.UnconfirmedFiles.Count) { "$($d.UnconfirmedFiles.Count) unconfirmed" }; if ($d.LeftBehind.Count) { "$($d.LeftBehind.Count) left behind" }) -join ', '
            $row.Substring([Math]::Min($start, $row.Length)).Substring(0, [Math]::Min(28, [Math]::Max(0, $row.Length - $start))).TrimEnd() | Should -Be $expected
        }
        @($script:Deletions | Where-Object { $_.RemovedFiles.Count -or $_.LeftBehind.Count }).Count | Should -BeGreaterThan 0 -Because 'the samples have files to show'
    }
}

Describe 'Traces whose spans were not read' {
    It 'say so: SpanCount empty beside SpansLoaded False, "(not loaded)" in the list, never a count of 0' {
        $t = Search-Trace -ExperimentName samples -First 1
        $text = $t | Format-List SpanCount, SpansLoaded | Out-String -Width 80
        $text | Should -Match '(?m)^SpanCount\s+:\s*$'
        $text | Should -Match '(?m)^SpansLoaded\s+: False\s*$'
        ($t | Format-List | Out-String -Width 80) | Should -Match '(?m)^Spans\s+: \(not loaded\)'
        ($t | Select-Object TraceId, SpanCount, SpansLoaded | ConvertTo-Csv)[-1] | Should -Be "`"$($t.TraceId)`",,`"False`""
        $full = $t | Get-Trace
        ($full | Format-List SpanCount | Out-String) | Should -Match "(?m)^SpanCount\s+: $($full.Spans.Count)\s*$"
        $full.Spans.Count | Should -BeGreaterThan 0
    }
}
