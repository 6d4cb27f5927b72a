namespace MlTraces.Tests.Support
{
    /// <summary>Tests that change process-wide settings (environment variables the module reads) run alone, so
    /// no test running beside them sees the change.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class ProcessEnvironmentCollection
    {
        public const string Name = "Process environment";
    }
}
