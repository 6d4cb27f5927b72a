namespace MlTraces.Core.Locations
{
    /// <summary>The one door to a location: parses the URI as MLflow does and gives the location that reaches it.</summary>
    public static class ObjectLocations
    {
        public static IObjectLocation Open(string uri, ObjectStoreSettings settings) => Open(LocationUri.Parse(uri, settings), settings);

        public static IObjectLocation Open(LocationUri root, ObjectStoreSettings settings) => root.Kind switch
        {
            LocationKind.S3 => new S3Location(root, settings),
            LocationKind.AzureBlob => new AzureBlobLocation(root, settings),
            _ => new FolderLocation(root),
        };
    }
}
