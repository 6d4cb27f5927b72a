using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace MlTraces.Shell
{
    /// <summary>A PowerShell host that talks through two text streams: what pwsh's console would print is
    /// written to <see cref="Output"/>, and prompts (-Confirm, Read-Host) read lines from <see cref="Input"/>.</summary>
    public sealed class ShellHost : PSHost
    {
        private readonly ShellUI _ui;
        public ShellHost(TextWriter output, TextReader input, int width, bool plainText = true)
        {
            _ui = new ShellUI(output, input, width, plainText);
        }

        public TextWriter Output => _ui.Out;
        public TextReader Input => _ui.In;
        public override string Name => "MlTraces.Shell";
        public override Version Version => typeof(ShellHost).Assembly.GetName().Version ?? new Version(0, 1);
        public override Guid InstanceId { get; } = Guid.NewGuid();
        public override PSHostUserInterface UI => _ui;
        public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
        public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;
        public int? ExitCode { get; private set; }
        public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
        public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported by MlTraces.Shell.");
        public override void ExitNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported by MlTraces.Shell.");
        public override void NotifyBeginApplication() { }
        public override void NotifyEndApplication() { }
    }

    internal sealed class ShellUI : PSHostUserInterface
    {
        public TextWriter Out { get; }
        public TextReader In { get; }
        private readonly ShellRawUI _raw;

        private readonly bool _plainText;

        public ShellUI(TextWriter output, TextReader input, int width, bool plainText)
        {
            Out = output; In = input; _raw = new ShellRawUI(width); _plainText = plainText;
        }

        public override PSHostRawUserInterface RawUI => _raw;
        public override bool SupportsVirtualTerminal => !_plainText;

        // Table headers carry colour escapes whatever $PSStyle says; a log file or a test wants the text only.
        private static readonly System.Text.RegularExpressions.Regex Escapes =
            new System.Text.RegularExpressions.Regex("\u001b\\[[0-9;?]*[ -/]*[@-~]", System.Text.RegularExpressions.RegexOptions.Compiled);
        private string Text(string value) => _plainText && value.IndexOf('\u001b') >= 0 ? Escapes.Replace(value, "") : value;

        public override void Write(string value) => Out.Write(Text(value));
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Out.Write(Text(value));
        public override void WriteLine(string value) => Out.WriteLine(Text(value));
        public override void WriteErrorLine(string value) => Out.WriteLine(Text(value));
        public override void WriteDebugLine(string message) => Out.WriteLine("DEBUG: " + message);
        public override void WriteVerboseLine(string message) => Out.WriteLine("VERBOSE: " + message);
        public override void WriteWarningLine(string message) => Out.WriteLine("WARNING: " + message);
        public override void WriteInformation(InformationRecord record) { }
        public List<ProgressRecord> Progress { get; } = new List<ProgressRecord>();
        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
            // Progress is drawn by consoles in place; a text stream keeps only the records (tests look at them).
            Progress.Add(record);
        }

        public override string ReadLine() => In.ReadLine() ?? "";

        public override SecureString ReadLineAsSecureString()
        {
            var s = new SecureString();
            foreach (char c in ReadLine()) s.AppendChar(c);
            s.MakeReadOnly();
            return s;
        }

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
        {
            if (!string.IsNullOrEmpty(caption)) Out.WriteLine(caption);
            if (!string.IsNullOrEmpty(message)) Out.WriteLine(message);
            var result = new Dictionary<string, PSObject>();
            foreach (var d in descriptions)
            {
                Out.Write(d.Name + ": ");
                result[d.Name] = PSObject.AsPSObject(ReadLine());
            }
            return result;
        }

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            if (!string.IsNullOrEmpty(caption)) Out.WriteLine(caption);
            if (!string.IsNullOrEmpty(message)) Out.WriteLine(message);
            while (true)
            {
                var labels = new List<string>();
                foreach (var c in choices)
                    labels.Add($"[{HotKey(c.Label)}] {c.Label.Replace("&", "")}");
                Out.Write(string.Join("  ", labels) + $" (default is \"{HotKey(choices[defaultChoice].Label)}\"): ");
                string? answer = In.ReadLine();
                if (answer == null) throw new PromptingException("MlTraces.Shell has no more input to answer the prompt; use -Confirm:$false for unattended runs.");
                answer = answer.Trim();
                Out.WriteLine(answer);
                if (answer.Length == 0) return defaultChoice;
                for (int i = 0; i < choices.Count; i++)
                    if (string.Equals(HotKey(choices[i].Label), answer, StringComparison.OrdinalIgnoreCase)
                        || string.Equals(choices[i].Label.Replace("&", ""), answer, StringComparison.OrdinalIgnoreCase))
                        return i;
            }
        }

        private static string HotKey(string label)
        {
            int amp = label.IndexOf('&');
            return amp >= 0 && amp + 1 < label.Length ? label[amp + 1].ToString().ToUpperInvariant() : label;
        }

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
        {
            Out.WriteLine(message);
            if (string.IsNullOrEmpty(userName)) { Out.Write("User: "); userName = ReadLine(); }
            Out.Write("Password for " + userName + ": ");
            return new PSCredential(userName, ReadLineAsSecureString());
        }
    }

    internal sealed class ShellRawUI : PSHostRawUserInterface
    {
        private readonly int _width;
        public ShellRawUI(int width) { _width = width; }
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override Coordinates CursorPosition { get; set; }
        public override Coordinates WindowPosition { get; set; }
        public override int CursorSize { get; set; }
        // The formatter sizes tables to the buffer width: this is what makes 80- and 120-column output.
        public override Size BufferSize { get => new Size(_width, 9999); set { } }
        public override Size WindowSize { get => new Size(_width, 50); set { } }
        public override Size MaxWindowSize => new Size(_width, 50);
        public override Size MaxPhysicalWindowSize => new Size(_width, 50);
        public override bool KeyAvailable => false;
        public override string WindowTitle { get; set; } = "MlTraces";
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("MlTraces.Shell does not read single keys.");
        public override void FlushInputBuffer() { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
    }
}
