#requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests, lays out and packages the MlTraces module (the pwsh front door; `dotnet build`/`dotnet test`/
    `dotnet pack src/MlTraces` do the same without pwsh).
.EXAMPLE
    ./build.ps1                 # build and run every test: `dotnet test`, whose PesterTests runs the Pester suite
                                # in pwsh 7.6.10 with Pester 5.7.1 (both from NuGet)
.EXAMPLE
    ./build.ps1 -Task Pester    # only the Pester suite (tests/*.Tests.ps1), in a fresh pwsh, against out/MlTraces
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
if ('Pester' -in $Task) {
    # Pester 5.7.1 is a PackageDownload of the test project: restore puts it in the NuGet cache.
    Invoke-Native dotnet @('restore', 'tests/MlTraces.Tests/MlTraces.Tests.csproj')
    $packages = (& dotnet msbuild tests/MlTraces.Tests/MlTraces.Tests.csproj -getProperty:NuGetPackageRoot).Trim()
    $pester = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
    # A fresh process, so the module under test is the laid-out one and nothing stays loaded. Run as a .NET tool
    # (`dotnet tool run pwsh`), this process is dotnet and pwsh is pwsh.dll in $PSHOME.
    $exe = [Environment]::ProcessPath
    $first = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    Invoke-Native $exe ($first + @('-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'tests/Invoke-PesterSuite.ps1'), '-PesterModule', $pester))
}
if ('Package' -in $Task) {
    # Builds if needed, then packs the laid-out module with the nuspec the build made from the manifest.
    Invoke-Native dotnet @('pack', 'src/MlTraces/MlTraces.csproj', '-c', $Configuration)
    $version = ([xml](Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot 'Directory.Build.props'))).Project.PropertyGroup.MlTracesVersion
    Write-Host "Package at $(Join-Path $PSScriptRoot "out/MlTraces.$version.nupkg")"
}
