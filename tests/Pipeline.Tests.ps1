# The pipeline contract in a real pwsh, with the cmdlets an admin pipes from (Get-ChildItem, Where-Object): a
# piped object's scope travels with it and is never widened, the writers share one dry-run decision, and one input
# that fails does not stop the others.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
}

Describe 'The pipeline contract' {
    BeforeEach {
        $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Folder | Out-Null
        Push-Location $script:Folder
        # a.db: half the sample traces in 'target', half in 'keep', which a scoped command must never touch.
        $lines = Get-Content -LiteralPath $script:Samples
        $lines | Select-Object -First 150 | Set-Content target.jsonl
        $lines | Select-Object -Skip 150 | Set-Content keep.jsonl
        New-TraceStore -TrackingUri a.db | Out-Null
        Import-Trace -TrackingUri a.db -Path target.jsonl -ExperimentName target
        Import-Trace -TrackingUri a.db -Path keep.jsonl -ExperimentName keep
        New-TraceStore -TrackingUri c.db | Out-Null
        Import-Trace -TrackingUri c.db -Path $script:Samples -ExperimentName target
        Set-Content -LiteralPath b.db -Value 'notes, not an MLflow store'
    }
    AfterEach {
        Pop-Location
        Remove-Item -LiteralPath $script:Folder -Recurse -Force
    }

    It 'deletes from the piped experiment only' {
        $keep = (Search-Trace -TrackingUri a.db -ExperimentName keep).Count
        $target = (Search-Trace -TrackingUri a.db -ExperimentName target).Count
        $before = (Get-FileHash a.db).Hash
        Get-ExperimentRetention -TrackingUri a.db -ExperimentName target | Remove-Trace -OlderThan 1m -WhatIf -WarningAction SilentlyContinue
        (Get-FileHash a.db).Hash | Should -Be $before
        Get-ExperimentRetention -TrackingUri a.db -ExperimentName target | Remove-Trace -OlderThan 1m -Confirm:$false -WarningAction SilentlyContinue
        (Search-Trace -TrackingUri a.db -ExperimentName target).Count | Should -Be 0
        (Search-Trace -TrackingUri a.db -ExperimentName keep).Count | Should -Be $keep
    }

    It 'searches every store Get-ChildItem names, one that is not a store being that input''s error' {
        $found = Get-ChildItem a.db, b.db, c.db | Search-Trace -First 1 -ErrorAction SilentlyContinue -ErrorVariable err
        $found.Count | Should -Be 2
        ($found.TrackingUri | ForEach-Object { Split-Path -Leaf $_ }) -join ',' | Should -Be 'a.db,c.db'
        $err.Count | Should -Be 1
        $err[0].TargetObject | Should -BeLike '*b.db'
    }

    It 'runs Invoke-TraceArchive for real with -WhatIf:$false under $WhatIfPreference' {
        $archive = Join-Path $script:Folder 'archive'
        $config = Join-Path $script:Folder 'archival.yaml'
        Set-Content -LiteralPath $config -Value "trace_archival:`n  enabled: true`n  location: $([System.Uri]::new($archive).AbsoluteUri)`n  retention: 1d"
        $before = (Get-FileHash c.db).Hash
        & {
            $WhatIfPreference = $true
            $null = Invoke-TraceArchive -TrackingUri c.db -ConfigPath $config
        }
        (Get-FileHash c.db).Hash | Should -Be $before
        Test-Path -LiteralPath $archive | Should -BeFalse
        $real = & {
            $WhatIfPreference = $true
            Invoke-TraceArchive -TrackingUri c.db -ConfigPath $config -WhatIf:$false -Confirm:$false
        }
        $real.Archived | Should -BeGreaterThan 0
        (Get-ChildItem -LiteralPath $archive -Recurse -Filter traces.pb).Count | Should -Be $real.Archived
    }
}

Describe 'Objects with TraceId and TrackingUri from a CSV' {
    BeforeEach {
        $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Folder | Out-Null
        Push-Location $script:Folder
        New-TraceStore -TrackingUri a.db | Out-Null
        Import-Trace -TrackingUri a.db -Path $script:Samples -ExperimentName target
        $script:Store = Join-Path $script:Folder 'a.db'
        # Three traces written to a CSV as a report would list them; the shell's own folder has no store.
        $script:Ids = @(Search-Trace -TrackingUri $script:Store -First 3 | ForEach-Object TraceId)
        $script:Ids | ForEach-Object { [pscustomobject]@{ TraceId = $_; TrackingUri = $script:Store } } | Export-Csv ids.csv -NoTypeInformation
        Set-Location ([System.IO.Path]::GetTempPath())
    }
    AfterEach {
        Pop-Location
        Remove-Item -LiteralPath $script:Folder -Recurse -Force
    }

    It 'Remove-Trace -WhatIf changes nothing, and the real run removes exactly those traces' {
        $csv = Join-Path $script:Folder 'ids.csv'
        $hash = (Get-FileHash $script:Store).Hash
        $before = @(Search-Trace -TrackingUri $script:Store | ForEach-Object TraceId)
        Import-Csv $csv | Remove-Trace -WhatIf
        (Get-FileHash $script:Store).Hash | Should -Be $hash
        $receipts = Import-Csv $csv | Remove-Trace -Confirm:$false -PassThru
        @($receipts | Where-Object Deleted | ForEach-Object TraceId | Sort-Object) | Should -Be @($script:Ids | Sort-Object)
        $after = @(Search-Trace -TrackingUri $script:Store | ForEach-Object TraceId)
        @($before | Where-Object { $after -notcontains $_ } | Sort-Object) | Should -Be @($script:Ids | Sort-Object)
    }

    It 'Get-Trace and Set-TraceLegalHold take the same objects' {
        $csv = Join-Path $script:Folder 'ids.csv'
        @(Import-Csv $csv | Get-Trace | ForEach-Object TraceId | Sort-Object) | Should -Be @($script:Ids | Sort-Object)
        Import-Csv $csv | Set-TraceLegalHold -Confirm:$false
        @(Import-Csv $csv | Get-Trace | Where-Object { $_.Tags['mltraces.legalHold'] }).Count | Should -Be 3
    }
}
