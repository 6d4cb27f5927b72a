using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation.Language;
using System.Text;
using System.Xml;

namespace MlTraces.ModuleBuilder
{
    /// <summary>
    /// The package's .nuspec, made from the module manifest as Publish-PSResource makes it, so the manifest stays the
    /// one place for the metadata. Tags add what the PowerShell Gallery searches by: PSModule, PSEdition_* from
    /// CompatiblePSEditions, PSIncludes_Cmdlet and PSCmdlet_/PSCommand_ per exported cmdlet. The module's files go
    /// to the package root, the layout Install-PSResource and Install-Module expect.
    /// </summary>
    internal static class Nuspec
    {
        private const string Ns = "http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd";

        public static void Write(string manifestPath, string nuspecPath)
        {
            var manifest = ReadManifest(manifestPath);
            string Required(Hashtable table, string key) =>
                table[key] is string s && s.Trim().Length > 0 ? s.Trim() : throw new SourceException(manifestPath, 1, $"The manifest has no {key}.");
            var psData = manifest["PrivateData"] is Hashtable pd && pd["PSData"] is Hashtable d ? d : new Hashtable(StringComparer.OrdinalIgnoreCase);

            string version = Required(manifest, "ModuleVersion");
            if (psData["Prerelease"] is string pre && pre.Length > 0) version += "-" + pre;

            var tags = new List<string> { "PSModule" };
            tags.AddRange(Strings(psData["Tags"]));
            tags.AddRange(Strings(manifest["CompatiblePSEditions"]).Select(e => "PSEdition_" + e));
            var cmdlets = Strings(manifest["CmdletsToExport"]);
            var functions = Strings(manifest["FunctionsToExport"]);
            if (cmdlets.Count > 0) tags.Add("PSIncludes_Cmdlet");
            if (functions.Count > 0) tags.Add("PSIncludes_Function");
            tags.AddRange(cmdlets.SelectMany(c => new[] { "PSCmdlet_" + c, "PSCommand_" + c }));
            tags.AddRange(functions.SelectMany(f => new[] { "PSFunction_" + f, "PSCommand_" + f }));
            foreach (string tag in tags)
                if (tag.Any(char.IsWhiteSpace)) throw new SourceException(manifestPath, 1, $"The tag '{tag}' has a space; tags are single words.");

            var metadata = new List<(string, string?)>
            {
                ("id", Path.GetFileNameWithoutExtension(manifestPath)),
                ("version", version),
                ("authors", Required(manifest, "Author")),
                ("owners", manifest["CompanyName"] as string),
                ("requireLicenseAcceptance", psData["RequireLicenseAcceptance"] is bool accept && accept ? "true" : "false"),
                ("licenseUrl", psData["LicenseUri"] as string),
                ("projectUrl", psData["ProjectUri"] as string),
                ("iconUrl", psData["IconUri"] as string),
                ("description", Required(manifest, "Description")),
                ("releaseNotes", psData["ReleaseNotes"] is string notes ? notes : string.Join("\n", Strings(psData["ReleaseNotes"]))),
                ("copyright", manifest["Copyright"] as string),
                ("tags", string.Join(" ", tags.Distinct(StringComparer.OrdinalIgnoreCase))),
            };

            var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
            using var w = XmlWriter.Create(nuspecPath, settings);
            w.WriteStartDocument();
            w.WriteStartElement("package", Ns);
            w.WriteStartElement("metadata", Ns);
            foreach (var (name, value) in metadata)
                if (!string.IsNullOrWhiteSpace(value)) w.WriteElementString(name, Ns, value!.Trim());
            var dependencies = Dependencies(manifest["RequiredModules"]);
            if (dependencies.Count > 0)
            {
                w.WriteStartElement("dependencies", Ns);
                foreach (var (id, min) in dependencies)
                {
                    w.WriteStartElement("dependency", Ns);
                    w.WriteAttributeString("id", id);
                    if (min != null) w.WriteAttributeString("version", min);
                    w.WriteEndElement();
                }
                w.WriteEndElement();
            }
            w.WriteEndElement();
            w.WriteStartElement("files", Ns);
            w.WriteStartElement("file", Ns);
            w.WriteAttributeString("src", "**/*");
            w.WriteAttributeString("target", "");
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndElement();
        }

        /// <summary>The manifest's data as Import-PowerShellDataFile reads it: constants only, nothing run.</summary>
        private static Hashtable ReadManifest(string path)
        {
            var ast = Parser.ParseFile(path, out _, out var errors);
            if (errors.Length > 0)
                throw new SourceException(path, errors[0].Extent.StartLineNumber, errors[0].Message);
            if (!(ast.Find(a => a is HashtableAst, false) is HashtableAst table))
                throw new SourceException(path, 1, "The manifest holds no hashtable.");
            var data = (Hashtable)table.SafeGetValue();
            return new Hashtable(data, StringComparer.OrdinalIgnoreCase);
        }

        private static List<string> Strings(object? value) => value switch
        {
            null => new List<string>(),
            string s => new List<string> { s },
            IEnumerable e => e.Cast<object>().Select(o => o.ToString()!).ToList(),
            _ => new List<string> { value.ToString()! },
        };

        private static List<(string Id, string? MinVersion)> Dependencies(object? required)
        {
            var result = new List<(string, string?)>();
            foreach (object item in required is IEnumerable e && !(required is string) ? e.Cast<object>() : required == null ? Enumerable.Empty<object>() : new[] { required })
            {
                if (item is Hashtable h)
                {
                    var t = new Hashtable(h, StringComparer.OrdinalIgnoreCase);
                    string? exact = t["RequiredVersion"] as string;
                    result.Add(((string)t["ModuleName"]!, exact != null ? $"[{exact}]" : t["ModuleVersion"] as string));
                }
                else result.Add((item.ToString()!, null));
            }
            return result;
        }
    }
}
