# Paths as PowerShell's own cmdlets read them, in real pwsh on every OS: '.\' and './', '~', and a drive of
# New-PSDrive, for a store's path, Export-Trace/Import-Trace -Path and the examples of the help.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    # A child pwsh shows what the console shows (-WhatIf writes to the host, not to a stream).
    $script:Pwsh = @([Environment]::ProcessPath)
    if ((Split-Path -Leaf $script:Pwsh[0]) -like 'dotnet*') { $script:Pwsh += Join-Path $PSHOME 'pwsh.dll' }
    $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
}

Describe 'Paths a user types' {
    BeforeEach {
        $script:Root = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path (Join-Path $script:Root 'here'), (Join-Path $script:Root 'home'), (Join-Path $script:Root 'drive') | Out-Null
        Push-Location (Join-Path $script:Root 'here')
        $script:OldHome = (Get-PSProvider FileSystem).Home
        (Get-PSProvider FileSystem).Home = Join-Path $script:Root 'home'
        New-PSDrive -Name MlArc -PSProvider FileSystem -Root (Join-Path $script:Root 'drive') | Out-Null
    }
    AfterEach {
        Remove-PSDrive -Name MlArc
        (Get-PSProvider FileSystem).Home = $script:OldHome
        Pop-Location
        Remove-Item -LiteralPath $script:Root -Recurse -Force
    }

    It 'New-TraceStore help example 4 works as written, and creates staging.db in the current location' {
        $exe = $script:Pwsh[0]
        $rest = @($script:Pwsh | Select-Object -Skip 1)
        $here = Join-Path $script:Root 'here'
        $out = & $exe $rest -NoProfile -NonInteractive -Command "Import-Module '$((Join-Path (Get-Module MlTraces).ModuleBase MlTraces.psd1))'; Set-Location -LiteralPath '$here'; New-TraceStore .\staging.db -WhatIf" 2>&1 | Out-String
        $out | Should -BeLike "*What if: Performing the operation `"Create MLflow tracking store`" on target `"$(Join-Path $script:Root 'here' 'staging.db')`"*"
        Get-ChildItem -LiteralPath $script:Root -Recurse -File | Should -BeNullOrEmpty -Because 'a dry run creates nothing'
        New-TraceStore .\staging.db | Out-Null
        Join-Path $script:Root 'here' 'staging.db' | Should -Exist
        (Get-ChildItem -LiteralPath $script:Root -Recurse -File).Name | Should -Be 'staging.db'
    }

    It 'reads <Given> as PowerShell does' -ForEach @(
        @{ Given = '.\s.db'; Expected = 'here/s.db' }
        @{ Given = './s.db'; Expected = 'here/s.db' }
        @{ Given = '~\s.db'; Expected = 'home/s.db' }
        @{ Given = '~/s.db'; Expected = 'home/s.db' }
        @{ Given = 'MlArc:\s.db'; Expected = 'drive/s.db' }
        @{ Given = 'sqlite:///.\s.db'; Expected = 'here/s.db' }
    ) {
        New-TraceStore -TrackingUri $Given | Out-Null
        Join-Path $script:Root $Expected | Should -Exist
        Import-Trace -Path $script:Samples -TrackingUri $Given -ExperimentName samples
        $n = (Search-Trace -TrackingUri $Given).Count
        $n | Should -BeGreaterThan 0
        # Export and import by the same kinds of paths, traces carrying the store they came from.
        Search-Trace -TrackingUri $Given | Export-Trace -Path MlArc:\backup.jsonl
        Join-Path $script:Root 'drive/backup.jsonl' | Should -Exist
        New-TraceStore ~\copy.db | Out-Null
        Import-Trace -Path MlArc:\backup.jsonl -TrackingUri ~\copy.db -ExperimentName restored
        (Search-Trace -TrackingUri ~\copy.db).Count | Should -Be $n
        Get-ChildItem -LiteralPath $script:Root -Recurse | Where-Object { $_.Name -match '[\\:]' } | Should -BeNullOrEmpty
    }

    It 'refuses an item of another provider rather than making a file of its name' {
        { New-TraceStore Env:\mltraces.db -ErrorAction Stop } | Should -Throw '*Environment provider, not a file*'
        Get-ChildItem -LiteralPath $script:Root -Recurse -File | Should -BeNullOrEmpty
    }
}
