<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="Symbology|Labeling">
  <renderer-v2 type="categorizedSymbol" attr="district" enableorderby="0" forceraster="0" symbollevels="0">
    <categories>
      <category render="true" value="body" symbol="0" label="Body: integrated IP functional centre"/>
      <category render="true" value="wing_east" symbol="1" label="East wing: cultural copyright"/>
      <category render="true" value="wing_west" symbol="2" label="West wing: industrial property"/>
    </categories>
    <symbols>
      <symbol type="fill" name="0" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="215,48,31,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="1" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="44,127,184,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="2" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="49,163,84,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
    </symbols>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="CASE WHEN &quot;district&quot; = 'body' THEN 'Body: integrated IP functional centre' WHEN &quot;district&quot; = 'wing_east' THEN 'East wing: cultural copyright' WHEN &quot;district&quot; = 'wing_west' THEN 'West wing: industrial property' ELSE &quot;district&quot; END" isExpression="1" fontFamily="Noto Sans CJK SC" fontSize="10.0" fontSizeUnit="Point" fontWeight="63" textColor="20,20,20,255" multilineHeight="0.95">
        <text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferOpacity="0.85" bufferColor="255,255,255,255" bufferJoinStyle="128" bufferNoFill="1"/>
      </text-style>
      <text-format autoWrapLength="18" useMaxLineLengthForAutoWrap="1" multilineAlign="1" wrapChar=""/>
      <placement placement="4" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" priority="10" polygonPlacementFlags="2"/>
      <rendering drawLabels="1" displayAll="1" obstacle="0" obstacleType="0" obstacleFactor="2" upsidedownLabels="0" scaleVisibility="1" scaleMin="1" scaleMax="150000" limitNumLabels="0"/>
    </settings>
  </labeling>
</qgis>
