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
