# MlTraces in a session where other modules loaded their own, older versions of MlTraces' dependencies first (AWS.Tools,
# Az.Storage and many others bring a YamlDotNet, Google.Protobuf, Npgsql or Microsoft.Data.Sqlite): on PowerShell 7
# the module loads its own copies into a private AssemblyLoadContext, so every command still works and the other
# modules keep theirs; from out/MlTraces and from the package. Each scenario runs in a fresh pwsh, since this
# suite's process has MlTraces loaded already.
BeforeDiscovery {
    # The older versions are PackageDownloads of tests/MlTraces.Tests (restore puts them in the NuGet cache); Pester
    # itself is one, so the cache is the folder Pester was loaded from, three levels up.
    $packages = (Get-Module Pester).ModuleBase | Split-Path | Split-Path | Split-Path
    $script:Early = @(
        @{ Name = 'YamlDotNet'; Path = Join-Path $packages 'yamldotnet/13.7.1/lib/netstandard2.0/YamlDotNet.dll'; Type = 'YamlDotNet.Serialization.DeserializerBuilder' }
        @{ Name = 'Google.Protobuf'; Path = Join-Path $packages 'google.protobuf/3.21.9/lib/netstandard2.0/Google.Protobuf.dll'; Type = 'Google.Protobuf.ByteString' }
        @{ Name = 'Npgsql'; Path = Join-Path $packages 'npgsql/8.0.3/lib/netstandard2.0/Npgsql.dll'; Type = 'Npgsql.NpgsqlConnection' }
        @{ Name = 'Microsoft.Data.Sqlite'; Path = Join-Path $packages 'microsoft.data.sqlite.core/8.0.30/lib/netstandard2.0/Microsoft.Data.Sqlite.dll'; Type = 'Microsoft.Data.Sqlite.SqliteConnection' }
        @{ Name = 'SQLitePCLRaw.core'; Path = Join-Path $packages 'sqlitepclraw.core/2.1.11/lib/netstandard2.0/SQLitePCLRaw.core.dll'; Type = 'SQLitePCL.raw' }
    )
}

Describe 'MlTraces after other versions of its dependencies were loaded' -ForEach @(@{ Early = $script:Early }) {
    BeforeAll {
        $script:Module = Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1'
        $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
        $script:Pwsh = @([Environment]::ProcessPath)
        if ((Split-Path -Leaf $script:Pwsh[0]) -like 'dotnet*') { $script:Pwsh += Join-Path $PSHOME 'pwsh.dll' }
        $script:Work = Join-Path ([IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Work | Out-Null

        # A fresh pwsh loads the given assemblies as another module would (by path, into the default context), then
        # imports MlTraces and runs each step: the outcome of every step (its value, or its error) comes back as JSON.
        function Invoke-Scenario([hashtable[]] $Preload = @(), [string] $Folder, [string] $PgUri, [string] $Module = $script:Module) {
            New-Item -ItemType Directory -Path $Folder -Force | Out-Null
            @{ Preload = @($Preload | ForEach-Object { @{ Path = $_.Path; Type = $_.Type } }); Module = $Module; Samples = $script:Samples; PgUri = $PgUri } |
                ConvertTo-Json -Depth 4 | Set-Content -LiteralPath (Join-Path $Folder 'scenario.json')
            $script = Join-Path $Folder 'scenario.ps1'
            Set-Content -LiteralPath $script -Value {
                $ErrorActionPreference = 'Stop'
                $in = Get-Content -Raw scenario.json | ConvertFrom-Json
                $out = [ordered]@{}
                function Step([string] $Name, [scriptblock] $Body) {
                    try { $out[$Name] = & $Body } catch { $out[$Name] = "ERROR $($_.Exception.GetType().Name): $($_.Exception.Message)" }
                }
                foreach ($early in $in.Preload) { [void][Reflection.Assembly]::LoadFrom($early.Path) }
                Step import { Import-Module $in.Module; 'ok' }
                Step sqlite {
                    New-TraceStore | Out-Null
                    Import-Trace -Path $in.Samples -ExperimentName samples | Out-Null
                    @(Search-Trace -ExperimentName samples -Filter "status = 'OK'").Count
                }
                Step view { ((Search-Trace -ExperimentName samples -First 3 | Out-String -Width 120) -split "`r?`n" | Where-Object { $_.Trim() })[0] }
                $config = Join-Path $PWD 'archival.yaml'
                Set-Content $config "trace_archival:`n  enabled: true`n  location: $([uri]::new((Join-Path $PWD 'archive')).AbsoluteUri)`n  retention: 1d`n"
                Step yaml {
                    Set-ExperimentRetention -ExperimentName samples -ArchiveNow | Out-Null
                    Invoke-TraceArchive -ConfigPath $config -WhatIf | Out-Null
                    @(Get-ChildItem -Recurse -LiteralPath (Join-Path $PWD 'archive') -ErrorAction SilentlyContinue).Count
                }
                Step protobuf {
                    $first = Search-Trace -ExperimentName samples -Filter "status = 'OK'" -OrderBy 'timestamp_ms ASC' -First 1 | Get-Trace
                    Invoke-TraceArchive -ConfigPath $config -Confirm:$false | Out-Null
                    $archived = Get-Trace $first.TraceId
                    "$($archived.SpansLocation) $(@($archived.Spans).Count) $(($archived.Spans.Content -join '') -eq ($first.Spans.Content -join ''))"
                }
                if ($in.PgUri) {
                    Step postgres {
                        New-TraceStore -TrackingUri $in.PgUri | Out-Null
                        Import-Trace -Path $in.Samples -TrackingUri $in.PgUri -ExperimentName samples | Out-Null
                        @(Search-Trace -TrackingUri $in.PgUri -ExperimentName samples -Filter "status = 'OK'").Count
                    }
                }
                # What a type name means to PowerShell now, and every copy of each assembly in the process with its context.
                $out.resolved = [ordered]@{}
                $out.loaded = [ordered]@{}
                foreach ($early in $in.Preload) {
                    $name = [Reflection.AssemblyName]::GetAssemblyName($early.Path).Name
                    $out.resolved[$name] = ($early.Type -as [type]).Assembly.Location
                    $out.loaded[$name] = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $name } |
                        ForEach-Object { "$($_.GetName().Version) $([Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name)" } | Sort-Object)
                }
                $out | ConvertTo-Json -Depth 4 | Set-Content result.json
            }.ToString()
            Push-Location -LiteralPath $Folder
            try {
                $exe, $rest = $script:Pwsh
                $console = & $exe $rest -NoProfile -NonInteractive -File $script 2>&1 | Out-String
                $result = Join-Path $Folder 'result.json'
                if (-not (Test-Path -LiteralPath $result)) { throw "The scenario's pwsh wrote no result: $console" }
                Get-Content -Raw -LiteralPath $result | ConvertFrom-Json -AsHashtable
            }
            finally { Pop-Location }
        }

        # Every step ran, and as it does in a session with nothing loaded first.
        function Assert-AsReference([hashtable] $Result, [string] $Because) {
            foreach ($step in 'import', 'sqlite', 'view', 'yaml', 'protobuf') {
                "$($Result[$step])" | Should -Not -BeLike 'ERROR*' -Because "step $step $Because"
                $Result[$step] | Should -Be $script:Reference[$step] -Because "step $step $Because"
            }
        }

        # Without a loaded copy the same steps give the reference outcome.
        $script:Reference = Invoke-Scenario -Folder (Join-Path $script:Work 'reference')
    }
    AfterAll {
        Remove-Item -LiteralPath $script:Work -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'runs every command when an older <Name> was loaded first' -ForEach $Early {
        $r = Invoke-Scenario -Preload $_ -Folder (Join-Path $script:Work $Name)
        Assert-AsReference $r "with $Name $([Reflection.AssemblyName]::GetAssemblyName($Path).Version) loaded first"
    }

    It 'finds the reference outcome sensible (samples found, the view''s header, nothing archived by -WhatIf, spans read back from traces.pb)' {
        $script:Reference.import | Should -Be 'ok'
        $script:Reference.sqlite | Should -BeGreaterThan 0
        $script:Reference.view | Should -Match '^RequestTime\s+TraceId\s+State\s+'
        $script:Reference.yaml | Should -Be 0
        $script:Reference.protobuf | Should -Match '^ARCHIVE_REPO [1-9]\d* True$'
    }

    It 'runs every command with all of them loaded first, and leaves each the other module''s version' {
        $pg = $null
        if ($env:MLTRACES_TEST_PG) {
            # A database of its own on the given server, dropped afterwards.
            $db = 'mltraces_alc_' + [guid]::NewGuid().ToString('N').Substring(0, 12)
            psql $env:MLTRACES_TEST_PG -q -c "CREATE DATABASE $db" | Out-Null
            $LASTEXITCODE | Should -Be 0 -Because 'psql makes the database on MLTRACES_TEST_PG'
            $pg = $env:MLTRACES_TEST_PG -replace '^(postgresql://[^/]+/)[^?]*', "`${1}$db"
        }
        try {
            $r = Invoke-Scenario -Preload $Early -Folder (Join-Path $script:Work 'all') -PgUri $pg
        }
        finally {
            if ($pg) { psql $env:MLTRACES_TEST_PG -q -c "DROP DATABASE IF EXISTS $db" | Out-Null }
        }
        Assert-AsReference $r 'with all of them loaded first'
        if ($pg) { $r.postgres | Should -Be $script:Reference.sqlite -Because 'the same samples on PostgreSQL' }
        foreach ($dep in $Early) {
            $version = [Reflection.AssemblyName]::GetAssemblyName($dep.Path).Version
            # The session's copy stays in the default context, the one PowerShell's type names see; MlTraces' own
            # (newer) copy sits in its private context.
            $r.resolved[$dep.Name] | Should -Be $dep.Path -Because "[$($dep.Type)] must still mean the session's $($dep.Name) $version"
            $own = [Reflection.AssemblyName]::GetAssemblyName((Get-ChildItem -LiteralPath (Split-Path $script:Module) -Recurse -Filter "$($dep.Name).dll")[0].FullName).Version
            $own | Should -BeGreaterThan $version
            $r.loaded[$dep.Name] | Should -Be (@("$version Default", "$own MlTraces") | Sort-Object) -Because "MlTraces loads its own $($dep.Name) beside the session's"
        }
    }

    It 'runs from the package as Install-PSResource lays it out, with an older YamlDotNet loaded first' {
        # The nupkg's files at the root of a folder named as the module: what the Gallery's installers do with it.
        $version = (Import-PowerShellDataFile -LiteralPath $script:Module).ModuleVersion
        $package = Join-Path $PSScriptRoot "../out/MlTraces.$version.nupkg"
        Test-Path -LiteralPath $package | Should -BeTrue -Because 'building the tests packs it (or run ./build.ps1 -Task Package)'
        $installed = Join-Path $script:Work 'installed/MlTraces'
        [IO.Compression.ZipFile]::ExtractToDirectory($package, $installed)
        $yaml = $Early | Where-Object Name -eq 'YamlDotNet'
        $r = Invoke-Scenario -Preload $yaml -Folder (Join-Path $script:Work 'package') -Module (Join-Path $installed 'MlTraces.psd1')
        Assert-AsReference $r 'from the package'
        $r.loaded.YamlDotNet | Should -Contain ('{0} Default' -f [Reflection.AssemblyName]::GetAssemblyName($yaml.Path).Version)
    }
}
