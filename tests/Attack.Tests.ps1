# The safety rules of about_MlTraces, attacked from a real pwsh console: hostile ids at every door, paths that lead
# out of a trace's own folder, a payload that is a FIFO, a store named as an export target, passwords in URIs and a
# hostile archival config. The xunit suite (tests/MlTraces.Tests/Attack) attacks the same classes with more
# variants on SQLite and PostgreSQL; this file checks what a console user sees: error records, $Error, -WhatIf.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../out/MlTraces/MlTraces.psd1') -Force
    $script:Samples = Join-Path $PSScriptRoot '../samples/traces.jsonl'
    # This pwsh again, for what may end a process: as a .NET tool it is dotnet running pwsh.dll.
    $script:Pwsh = @([Environment]::ProcessPath)
    if ((Split-Path -Leaf $script:Pwsh[0]) -like 'dotnet*') { $script:Pwsh += Join-Path $PSHOME 'pwsh.dll' }

    # Every file under a folder with its hash, the store and its journal left out (deleting rows changes them).
    function Get-Listing([string] $Root) {
        Get-ChildItem -LiteralPath $Root -Recurse -Force |
            Where-Object { $_.Name -notlike 'mlflow.db*' } |
            ForEach-Object {
                $hash = if ($_.PSIsContainer) { 'dir' } else { (Get-FileHash -LiteralPath $_.FullName).Hash }
                '{0} {1}' -f [System.IO.Path]::GetRelativePath($Root, $_.FullName), $hash
            } | Sort-Object
    }

    function Invoke-StoreSql([string] $Store, [string] $Sql) {
        # Microsoft.Data.Sqlite as MlTraces loaded it: in its private load context, which no type name reaches.
        $sqlite = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Microsoft.Data.Sqlite' })[0]
        $c = $sqlite.GetType('Microsoft.Data.Sqlite.SqliteConnection')::new("Data Source=$Store;Pooling=False")
        $c.Open()
        try { $cmd = $c.CreateCommand(); $cmd.CommandText = $Sql; $cmd.ExecuteScalar() }
        finally { $c.Dispose() }
    }

    # The first sample trace as a JSON line, with its id and tags replaced.
    function New-TraceLine([string] $Id, [hashtable] $Tags = @{}) {
        $t = Get-Content -LiteralPath $script:Samples -TotalCount 1 | ConvertFrom-Json -AsHashtable
        $t.info.trace_id = $Id
        foreach ($k in $Tags.Keys) { $t.info.tags[$k] = $Tags[$k] }
        $t | ConvertTo-Json -Depth 64 -Compress
    }
}

Describe 'Attacks on MlTraces, in a real pwsh' {
    BeforeEach {
        $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ([guid]::NewGuid())
        New-Item -ItemType Directory -Path $script:Folder | Out-Null
        Push-Location $script:Folder
        New-TraceStore | Out-Null
        Import-Trace -Path $script:Samples -ExperimentName samples
        $script:Store = Join-Path $script:Folder 'mlflow.db'
        $Error.Clear()
    }
    AfterEach {
        Pop-Location
        Remove-Item -LiteralPath $script:Folder -Recurse -Force
    }

    It 'refuses the trace id <Id> at -TraceId and in the pipeline, and touches nothing' -ForEach @(
        @{ Id = '..' }, @{ Id = '.' }, @{ Id = 'a/b' }, @{ Id = 'tr-x/../tr-y' }, @{ Id = '../../etc' }, @{ Id = 'tr-x:y' }
    ) {
        $before = Get-Listing $script:Folder
        $count = (Search-Trace).Count
        Remove-Trace -TraceId $Id -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failed
        [pscustomobject]@{ TraceId = $Id } | Remove-Trace -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable +failed
        Get-Trace -TraceId $Id -ErrorAction SilentlyContinue -ErrorVariable +failed
        $failed.Count | Should -Be 3
        $failed | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'InvalidTraceId,*' }
        (Search-Trace).Count | Should -Be $count
        Get-Listing $script:Folder | Should -Be $before
        Test-Path -LiteralPath $script:Store | Should -BeTrue
    }

    It 'imports the clean lines of a file and names the line of each hostile id' {
        $good = 'tr-' + ('ab' * 16)
        $lines = @(
            (New-TraceLine -Id '..'),
            (New-TraceLine -Id $good),
            (New-TraceLine -Id 'tr-x/../tr-y' -Tags @{ 'mlflow.artifactLocation' = "file://$($script:Folder)/victim/../artifacts" })
        )
        Set-Content -LiteralPath hostile.jsonl -Value $lines
        $imported = Import-Trace -Path hostile.jsonl -ExperimentName hostile -PassThru -ErrorAction SilentlyContinue -ErrorVariable failed
        @($imported).TraceId | Should -Be @($good)
        $failed.Count | Should -Be 2
        "$($failed[0])" | Should -BeLike '*line 1*'
        "$($failed[1])" | Should -BeLike '*line 3*'
    }

    It 'deletes a trace whose artifact tag leads out of its folder as rows only, and -WhatIf says so first' {
        $victim = Join-Path $script:Folder 'victim'
        New-Item -ItemType Directory -Path (Join-Path $victim 'artifacts') | Out-Null
        Set-Content -LiteralPath (Join-Path $victim 'artifacts/keep.txt') -Value 'not the trace''s'
        $id = (Search-Trace -First 1).TraceId
        Invoke-StoreSql $script:Store "UPDATE trace_tags SET value = 'file://$victim/../victim/artifacts' WHERE request_id = '$id' AND key = 'mlflow.artifactLocation'" | Out-Null
        $before = Get-Listing $script:Folder

        Remove-Trace -TraceId $id -WhatIf -WarningVariable dry -WarningAction SilentlyContinue
        "$dry" | Should -BeLike '*victim*'
        Get-Listing $script:Folder | Should -Be $before
        $receipt = Remove-Trace -TraceId $id -Confirm:$false -PassThru -WarningAction SilentlyContinue
        $receipt.Status | Should -Be 'Deleted'
        "$($receipt.LeftBehind)" | Should -BeLike '*victim*'
        Get-Listing $script:Folder | Should -Be $before
        Get-Trace -TraceId $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'never opens an archived payload that is a FIFO, and says why' -Skip:($IsWindows) {
        $archive = Join-Path $script:Folder 'archive'
        Set-Content -LiteralPath archival.yaml -Value "trace_archival:`n  enabled: true`n  location: $(([uri]::new($archive)).AbsoluteUri)`n  retention: 1d`n"
        Invoke-TraceArchive -ConfigPath archival.yaml -Confirm:$false | Out-Null
        $payload = Get-ChildItem -LiteralPath $archive -Recurse -Filter traces.pb | Select-Object -First 1
        $payload | Should -Not -BeNullOrEmpty
        $id = $payload.Directory.Parent.Name
        Remove-Item -LiteralPath $payload.FullName
        & mkfifo $payload.FullName
        $job = Start-ThreadJob { param($m, $i) Import-Module $m; Get-Trace -TraceId $i -WarningVariable w -WarningAction SilentlyContinue; "$w" } -ArgumentList (Join-Path (Get-Module MlTraces).ModuleBase MlTraces.psd1), $id
        $done = Wait-Job $job -Timeout 60
        $done | Should -Not -BeNullOrEmpty -Because 'a read of a FIFO waits for a writer forever'
        $out = Receive-Job $job
        ($out | Where-Object { $_ -is [string] }) | Should -BeLike '*not a regular file*'
    }

    It 'refuses to export over a SQLite database or the store being read, and leaves it whole' -ForEach @(
        @{ Target = 'mlflow.db' }, @{ Target = './mlflow.db' }, @{ Target = 'copy.db' }
    ) {
        Copy-Item -LiteralPath $script:Store -Destination copy.db
        $hash = (Get-FileHash -LiteralPath $Target).Hash
        { Search-Trace -TrackingUri ./mlflow.db | Export-Trace $Target -ErrorAction Stop } | Should -Throw
        (Get-FileHash -LiteralPath $Target).Hash | Should -Be $hash
        (Search-Trace).Count | Should -BeGreaterThan 0
        Get-ChildItem -Filter '*.tmp' | Should -BeNullOrEmpty
    }

    It 'never shows the password <Password> of a PostgreSQL URI' -ForEach @(
        @{ Password = 'ab12/SLASHSECRET' }, @{ Password = '5432/SECRETTAIL' }, @{ Password = 'q?SECRETQUERY' }, @{ Password = 'at@SECRETAT' }
    ) {
        $uri = "postgresql://bob:$Password@127.0.0.1:1/db"
        $failed = @()
        $verbose = try { Search-Trace -TrackingUri $uri -First 1 -Verbose -ErrorAction Stop 4>&1 } catch { $failed += $_ }
        $failed.Count | Should -Be 1
        $shown = (@($verbose) + @($failed) + @($failed.Exception | ForEach-Object { $_.ToString() })) -join "`n"
        $secret = $Password.Substring($Password.IndexOfAny('/?@'.ToCharArray()) + 1)
        $shown | Should -Not -BeLike "*$secret*"
    }

    It 'reads a hostile archival config as an error, not a crash' {
        Set-Content -LiteralPath deep.yaml -Value ("trace_archival: " + ('[' * 50000))
        $exe = $script:Pwsh[0]
        $rest = @($script:Pwsh | Select-Object -Skip 1)
        $out = & $exe $rest -NoProfile -NonInteractive -Command "Import-Module '$((Join-Path (Get-Module MlTraces).ModuleBase MlTraces.psd1))'; Invoke-TraceArchive -ConfigPath deep.yaml -WhatIf -ErrorAction Stop" 2>&1
        $LASTEXITCODE | Should -Be 1 -Because 'a stack overflow ends the process with 134'
        "$out" | Should -Match 'deep|nest'
    }
}
