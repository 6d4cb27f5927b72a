#requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests, lays out and packages the MlTraces module (the pwsh front door; `dotnet build`/`dotnet test`/
    `dotnet pack src/MlTraces` do the same without pwsh).
.EXAMPLE
    ./build.ps1                 # build and run every test (xunit, then Pester in a fresh pwsh)
.EXAMPLE
    ./build.ps1 -Task Build     # lay out out/MlTraces (with its help) only
.EXAMPLE
    ./build.ps1 -Task Package   # out/MlTraces.<version>.nupkg, for Install-PSResource or Publish-PSResource -NupkgPath
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Pester', 'Package')]
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
if ('Package' -in $Task) {
    # Builds if needed, then packs the laid-out module with the nuspec the build made from the manifest.
    Invoke-Native dotnet @('pack', 'src/MlTraces/MlTraces.csproj', '-c', $Configuration)
    $version = ([xml](Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot 'Directory.Build.props'))).Project.PropertyGroup.MlTracesVersion
    Write-Host "Package at $(Join-Path $PSScriptRoot "out/MlTraces.$version.nupkg")"
}
