#requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests and lays out the MlTraces module (the pwsh front door; `dotnet build`/`dotnet test` do the same
    without pwsh).
.EXAMPLE
    ./build.ps1                 # build and run every test (xunit, then Pester in a fresh pwsh)
.EXAMPLE
    ./build.ps1 -Task Build     # lay out out/MlTraces only
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Pester')]
    [string[]] $Task = @('Build', 'Test'),
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

function Invoke-Native([string] $File, [string[]] $Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
}

if ('Build' -in $Task) {
    Invoke-Native dotnet @('build', 'MlTraces.slnx', '-c', $Configuration)
    Write-Host "Module laid out at $(Join-Path $PSScriptRoot 'out/MlTraces')"
}
if ('Test' -in $Task) {
    Invoke-Native dotnet @('test', 'MlTraces.slnx', '-c', $Configuration)
}
if ('Test' -in $Task -or 'Pester' -in $Task) {
    if (-not (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0')) {
        Write-Warning 'Pester 5 is not installed (Install-Module Pester -MinimumVersion 5.0); the Pester tests were not run.'
    }
    else {
        # A fresh process, so the module under test is the laid-out one and nothing stays loaded.
        $pwsh = (Get-Process -Id $PID).Path
        Invoke-Native $pwsh @('-NoProfile', '-Command',
            "Import-Module Pester -MinimumVersion 5.0; `$c = New-PesterConfiguration; `$c.Run.Path = '$PSScriptRoot/tests'; `$c.Run.Exit = `$true; `$c.Output.Verbosity = 'Detailed'; Invoke-Pester -Configuration `$c")
    }
}
