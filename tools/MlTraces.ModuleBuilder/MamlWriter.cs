using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Xml;

namespace MlTraces.ModuleBuilder
{
    /// <summary>
    /// Writes command help as MAML, the XML that Get-Help reads for binary cmdlets in Windows PowerShell 5.1 and in
    /// PowerShell 7, in the shape platyPS's New-ExternalHelp gives it.
    /// </summary>
    internal static class MamlWriter
    {
        private const string Maml = "http://schemas.microsoft.com/maml/2004/10";
        private const string Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        private const string Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

        public static void Write(string path, IEnumerable<CommandHelp> commands)
        {
            var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
            using var stream = File.Create(path);
            using var w = XmlWriter.Create(stream, settings);
            w.WriteStartDocument();
            w.WriteStartElement("helpItems", "http://msh");
            w.WriteAttributeString("schema", "maml");
            foreach (var c in commands) WriteCommand(w, c);
            w.WriteEndElement();
        }

        private static void WriteCommand(XmlWriter w, CommandHelp c)
        {
            w.WriteStartElement("command", "command", Command);
            w.WriteAttributeString("xmlns", "maml", null, Maml);
            w.WriteAttributeString("xmlns", "command", null, Command);
            w.WriteAttributeString("xmlns", "dev", null, Dev);

            w.WriteStartElement("details", Command);
            w.WriteElementString("name", Command, c.Name);
            w.WriteElementString("verb", Command, c.Verb);
            w.WriteElementString("noun", Command, c.Noun);
            Description(w, new[] { c.Synopsis });
            w.WriteEndElement();
            Description(w, c.Description);

            w.WriteStartElement("syntax", Command);
            foreach (var set in c.Syntax)
            {
                w.WriteStartElement("syntaxItem", Command);
                w.WriteElementString("name", Maml, c.Name);
                foreach (var sp in set.Parameters)
                {
                    var p = c.Parameters.First(x => x.Name == sp.Name);
                    Parameter(w, p, p.Facts.First(f => f.AppliesTo(set.Name)), inSyntax: true);
                }
                w.WriteEndElement();
            }
            w.WriteEndElement();

            w.WriteStartElement("parameters", Command);
            foreach (var p in c.Parameters) Parameter(w, p, c.MainFacts(p), inSyntax: false);
            w.WriteEndElement();

            Types(w, "inputTypes", "inputType", c.Inputs);
            Types(w, "returnValues", "returnValue", c.Outputs);

            w.WriteStartElement("alertSet", Maml);
            w.WriteStartElement("alert", Maml);
            Paras(w, c.Notes);
            w.WriteEndElement();
            w.WriteEndElement();

            w.WriteStartElement("examples", Command);
            foreach (var e in c.Examples)
            {
                w.WriteStartElement("example", Command);
                w.WriteElementString("title", Maml, $"--------- {e.Title} ---------");
                w.WriteElementString("code", Dev, e.Code);
                w.WriteStartElement("remarks", Dev);
                // The empty paragraph keeps a blank line between one example and the next title.
                Paras(w, e.Remarks.Concat(new[] { "" }));
                w.WriteEndElement();
                w.WriteEndElement();
            }
            w.WriteEndElement();

            w.WriteStartElement("relatedLinks", Command);
            foreach (var (text, uri) in c.Links)
            {
                w.WriteStartElement("navigationLink", Maml);
                w.WriteElementString("linkText", Maml, text);
                w.WriteElementString("uri", Maml, uri);
                w.WriteEndElement();
            }
            w.WriteEndElement();

            w.WriteEndElement();
        }

        /// <summary>A parameter; in a syntax item a switch has no value element, so Get-Help shows [-Name].</summary>
        private static void Parameter(XmlWriter w, ParameterHelp p, ParameterFacts f, bool inSyntax)
        {
            w.WriteStartElement("parameter", Command);
            w.WriteAttributeString("required", f.Required ? "true" : "false");
            w.WriteAttributeString("variableLength", "true");
            w.WriteAttributeString("globbing", f.Globbing ? "true" : "false");
            w.WriteAttributeString("pipelineInput", f.PipelineInput);
            w.WriteAttributeString("position", f.Position);
            w.WriteAttributeString("aliases", f.Aliases.Count == 0 ? "none" : string.Join(", ", f.Aliases));
            w.WriteElementString("name", Maml, p.Name);
            Description(w, p.Description);
            if (f.AcceptedValues.Count > 0)
            {
                w.WriteStartElement("parameterValueGroup", Command);
                foreach (string v in f.AcceptedValues) Value(w, v, required: false);
                w.WriteEndElement();
            }
            else if (!(inSyntax && f.IsSwitch))
            {
                Value(w, f.Type, required: !f.IsSwitch);
            }
            w.WriteStartElement("type", Dev);
            w.WriteElementString("name", Maml, f.Type);
            w.WriteElementString("uri", Maml, "");
            w.WriteEndElement();
            w.WriteElementString("defaultValue", Dev, f.DefaultValue);
            w.WriteEndElement();
        }

        private static void Value(XmlWriter w, string text, bool required)
        {
            w.WriteStartElement("parameterValue", Command);
            w.WriteAttributeString("required", required ? "true" : "false");
            w.WriteAttributeString("variableLength", "false");
            w.WriteString(text);
            w.WriteEndElement();
        }

        private static void Types(XmlWriter w, string list, string item, List<TypeHelp> types)
        {
            w.WriteStartElement(list, Command);
            foreach (var t in types)
            {
                w.WriteStartElement(item, Command);
                w.WriteStartElement("type", Dev);
                w.WriteElementString("name", Maml, t.Name);
                w.WriteEndElement();
                Description(w, t.Description);
                w.WriteEndElement();
            }
            w.WriteEndElement();
        }

        private static void Description(XmlWriter w, IEnumerable<string> paras)
        {
            w.WriteStartElement("description", Maml);
            Paras(w, paras);
            w.WriteEndElement();
        }

        private static void Paras(XmlWriter w, IEnumerable<string> paras)
        {
            foreach (string p in paras) w.WriteElementString("para", Maml, p);
        }
    }
}
