using System;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Retention;

namespace MlTraces.Commands
{
    /// <summary>
    /// Lets a TimeSpan parameter take MLflow's durations ("30d", "12h", "90m") as well as TimeSpan objects.
    /// PowerShell reads an unquoted 30d as the decimal number 30 ("d" is its decimal suffix), so a decimal is
    /// taken as days; any other bare number is refused, as PowerShell would read it as ticks.
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
                    case decimal days: return RetentionDuration.Parse(days.ToString(System.Globalization.CultureInfo.InvariantCulture) + "d", _parameterName).TimeSpan;
                    case byte _: case sbyte _: case short _: case ushort _: case int _: case uint _: case long _: case ulong _:
                    case float _: case double _: case System.Numerics.BigInteger _:
                        // A number without a unit (30, or 30s read as a short): say which units there are.
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
