#requires -Version 7.0
<#
.SYNOPSIS
    Runs every tests/*.Tests.ps1 with Pester against the laid-out module out/MlTraces, prints one summary line and
    exits 1 when any test or block fails (or none ran). The xunit test PesterTests runs it in pwsh 7.6.10 with
    Pester 5.7.1, both from NuGet (`dotnet test` restores them), so `dotnet test` answers for the Pester suite too.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File tests/Invoke-PesterSuite.ps1 -PesterModule ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1
#>
param(
    [Parameter(Mandatory)] [string] $PesterModule,
    # Only the tests whose full name matches (Pester's -FullNameFilter), for quick iteration.
    [string[]] $FullNameFilter
)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module -Name $PesterModule
$c = New-PesterConfiguration
$c.Run.Path = @(Get-ChildItem -LiteralPath $PSScriptRoot -Filter *.Tests.ps1 | ForEach-Object FullName)
$c.Run.PassThru = $true
$c.Output.Verbosity = 'Detailed'
$c.Output.RenderMode = 'Plaintext'
if ($FullNameFilter) { $c.Filter.FullName = $FullNameFilter }
$r = Invoke-Pester -Configuration $c
foreach ($t in $r.Failed) { "FAILED: $($t.ExpandedPath): $($t.ErrorRecord | Select-Object -First 1)" }
foreach ($b in $r.FailedBlocks + $r.FailedContainers) { "FAILED BLOCK: $($b.Name ?? $b.Item): $($b.ErrorRecord | Select-Object -First 1)" }
$summary = "Pester $((Get-Module Pester).Version) in pwsh $($PSVersionTable.PSVersion): $($r.PassedCount) passed, $($r.FailedCount) failed, $($r.SkippedCount) skipped"
$summary
$out = Join-Path $PSScriptRoot '../out'
if (Test-Path -LiteralPath $out) { Set-Content -LiteralPath (Join-Path $out 'pester-summary.txt') -Value $summary }
exit $(if ($r.Result -eq 'Passed' -and $r.PassedCount -gt 0) { 0 } else { 1 })
