// FarmRender
