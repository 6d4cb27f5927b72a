using System;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Retention;

namespace MlTraces.Commands
{
    /// <summary>
    /// Lets a TimeSpan parameter take MLflow's durations ("30d", "12h", "90m") as well as TimeSpan objects.
    /// A bare number is refused: PowerShell would read it as ticks.
    /// </summary>
    internal sealed class DurationTransformationAttribute : ArgumentTransformationAttribute
    {
        private readonly string _parameterName;

        public DurationTransformationAttribute(string parameterName) { _parameterName = parameterName; }

        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso ? pso.BaseObject : inputData;
            try
            {
                switch (value)
                {
                    case string s: return RetentionDuration.Parse(s, _parameterName).TimeSpan;
                    case int _: case long _: case double _: case decimal _:
                        return RetentionDuration.Parse(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture), _parameterName).TimeSpan;
                    default: return inputData;
                }
            }
            catch (MlTracesException ex)
            {
                throw new ArgumentTransformationMetadataException(ex.Message, ex);
            }
        }
    }
}
